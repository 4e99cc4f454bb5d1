"""A call's timers: named, owned by the call, all cancelled when it ends.

They run on a `Scheduler`: the event loop in production, a virtual clock in tests (which then
move time on explicitly instead of waiting for it). An expiry is not acted on in the
scheduler's callback: it is handed to the call (``on_expiry``), which takes it in turn with the
call's events, and drops it when the timer was cancelled or restarted in the meantime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...

    def when(self) -> float:
        """When the timer expires, on its scheduler's clock."""
        ...


class Scheduler(Protocol):
    """Runs a callback after a delay (`asyncio.AbstractEventLoop.call_later` is one)."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...


class LoopScheduler:
    """The running event loop's clock."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)


Expiry = Callable[[str, TimerHandle], Coroutine[Any, Any, None]]
"""``(name, handle)``: take a timer's expiry (see `CallTimers.take`)."""


class CallTimers:
    """The named timers of one call (``menu``, ``ring``, ``accept``)."""

    def __init__(self, scheduler: Scheduler, on_expiry: Expiry) -> None:
        self._scheduler = scheduler
        self._on_expiry = on_expiry
        self._handles: dict[str, TimerHandle] = {}
        self._expiring: set[asyncio.Task[None]] = set()
        """Expiries handed to the call and not taken yet (waiting for the call's lock)."""

    @property
    def pending(self) -> dict[str, float]:
        """Timer name -> when it expires, for the timers running now."""
        return {name: handle.when() for name, handle in self._handles.items()}

    @property
    def running(self) -> bool:
        return bool(self._handles)

    def start(self, name: str, delay_s: float) -> None:
        """Start ``name`` (restart it if it runs)."""
        self.cancel(name)
        handle: TimerHandle | None = None

        def expired() -> None:
            assert handle is not None
            task = asyncio.get_running_loop().create_task(self._on_expiry(name, handle))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)

        handle = self._scheduler.call_later(delay_s, expired)
        self._handles[name] = handle

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def take(self, name: str, handle: TimerHandle) -> bool:
        """Whether this expiry still counts (its timer was neither cancelled nor restarted);
        if so the timer is over, and the expiry no longer cancellable by `cancel_all`."""
        task = asyncio.current_task()
        if task is not None:
            self._expiring.discard(task)
        if self._handles.get(name) is not handle:
            return False
        del self._handles[name]
        return True

    def cancel_all(self) -> None:
        """The call is over: cancel every timer, and every expiry not taken yet."""
        for name in list(self._handles):
            self.cancel(name)
        for task in list(self._expiring):
            task.cancel()
        self._expiring.clear()
