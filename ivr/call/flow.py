"""How a call's flow waits for what happens to the call.

The flow is one coroutine per call that reads top-down (greeting, menus, transfer, message) and
awaits what it needs next: the prompts ending, a key, a leg answering, a timer. `Flow` runs it
as a task that moves only when the call delivers something to it, and a delivery returns only
once the flow waits again (or is over). So the call takes one event at a time, in order, under
its lock, exactly as if the flow's reaction ran inside the event's handler, and the flow is
always at a known point (waiting) when the call looks at it, stops it or hands the caller back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from ivr.call.resources import Leg


@dataclass(frozen=True)
class CallerKey:
    digit: str


@dataclass(frozen=True)
class PromptsDone:
    """The prompt set the flow last started has played to its end."""


@dataclass(frozen=True)
class LegAnswered:
    leg: Leg


@dataclass(frozen=True)
class LegKey:
    leg: Leg
    digit: str


@dataclass(frozen=True)
class LegGone:
    """The leg hung up or failed; ``cause`` is the Q.850 cause when Asterisk gave one.
    ``unseen``: it ended while the event socket was down, so how is not known."""

    leg: Leg
    cause: int | None
    unseen: bool = False


@dataclass(frozen=True)
class Expired:
    timer: str


@dataclass(frozen=True)
class WorkDone:
    """Work the flow runs outside the call's lock (`Call.outside_lock`) has finished."""


@dataclass(frozen=True)
class TransferEnded:
    """The caller of a transfer the dialplan carried out is gone: ``outcome`` is the progress
    the dialplan left on the caller's channel (`dialplan.transfer_plan.parse_outcome`),
    ``hung_up_at`` when the caller's hang-up was asked for (Unix time), if that was seen."""

    outcome: str | None
    hung_up_at: float | None = None


FlowEvent = (
    CallerKey | PromptsDone | LegAnswered | LegKey | LegGone | Expired | WorkDone | TransferEnded
)


class Flow:
    """Runs a call's flow coroutine, one delivered event at a time."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[FlowEvent] | None = None
        self._failure: BaseException | None = None
        self._settled = asyncio.Event()
        """Set while the flow waits for an event, or is over (or not started)."""
        self._settled.set()

    def start(self, flow: Coroutine[Any, Any, None], name: str) -> None:
        self._settled.clear()
        self._task = asyncio.get_running_loop().create_task(flow, name=name)
        self._task.add_done_callback(self._over)

    def _over(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self._failure = task.exception()
        self._settled.set()

    async def receive(self) -> FlowEvent:
        """In the flow: wait for the next event delivered."""
        waiter: asyncio.Future[FlowEvent] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self._settled.set()
        try:
            return await waiter
        finally:
            self._waiter = None

    async def settled(self) -> None:
        """Wait until the flow waits for an event, or is over."""
        await self._settled.wait()

    async def deliver(self, event: FlowEvent) -> None:
        """Hand ``event`` to the flow; return once it waits again or is over."""
        await self._settled.wait()
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # over
        self._waiter = None
        self._settled.clear()
        waiter.set_result(event)
        await self._settled.wait()

    async def stop(self) -> None:
        """Cancel the flow where it waits. Does nothing from within the flow (which ends the
        call itself and then returns) or once it is over."""
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            return
        await self._settled.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def failure(self) -> BaseException | None:
        """The exception the flow died of, if it did (a bug: nothing moves the call on)."""
        return self._failure
