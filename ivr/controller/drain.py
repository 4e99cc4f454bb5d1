"""Draining a controller before it stops (SIGTERM, ``ivr311 drain``, ``POST /api/drain``).

There is one drain per controller, the same whoever starts it: from then on new calls go to
the fallback context and ``/readyz`` says not ready, for as long as the process lives. Calls in
progress get the drain timeout to end; those still in the IVR then are handed to the fallback
context, bridged conversations stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import structlog

from ivr.call import Call, CallState

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DrainStatus:
    """Where a drain stands (``GET /api/drain``)."""

    draining: bool
    """New calls go to the fallback context (set once, never cleared)."""
    calls_in_progress: int
    drained: bool
    """Draining and no call left (nor a hand-back still to confirm): the process may stop."""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


class Drain:
    """The drain of one controller, over its live calls and its idle event (set while no call
    is in progress nor a hand-back still to confirm)."""

    def __init__(self, calls: Mapping[str, Call], idle: asyncio.Event, timeout_s: float) -> None:
        self._calls = calls
        self._idle = idle
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self, timeout_s: float | None = None) -> asyncio.Task[None]:
        """Start the drain unless it started already (its timeout then counts from when it
        began); returns it. ``timeout_s`` overrides the controller's drain timeout."""
        if self._task is None:
            limit = self._timeout_s if timeout_s is None else timeout_s
            self._task = asyncio.create_task(self._run(limit), name="drain")
        return self._task

    def status(self) -> DrainStatus:
        return DrainStatus(
            draining=self.started,
            calls_in_progress=len(self._calls),
            drained=self.started and self._idle.is_set(),
        )

    def cancel(self) -> None:
        """Stop waiting (the controller closes at once)."""
        if self._task is not None:
            self._task.cancel()

    async def _run(self, limit: float) -> None:
        log.info("controller.draining", calls=len(self._calls), timeout_s=limit)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await self._idle.wait()
        for call in list(self._calls.values()):
            if call.state is not CallState.BRIDGED:
                await call.hand_back("drain")
        log.info("controller.drained", bridged_left=len(self._calls))
