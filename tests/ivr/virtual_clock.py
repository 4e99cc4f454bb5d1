"""A clock for the calls' timers that stands still until a test moves it.

The controller under test runs its calls' timers (menu, ring, accept) on a
`VirtualClock` (`ivr.call.Scheduler`): a test lets a timer run out at once with `advance`,
instead of spending the seconds the timer lasts. Everything else (the simulated switch, the
sockets, the controller's own timeouts) keeps the event loop's real clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class VirtualTimer:
    def __init__(
        self, when: float, callback: Callable[[], object], timers: list[VirtualTimer]
    ) -> None:
        self._when = when
        self.callback = callback
        self.cancelled = False
        self._timers = timers
        """The clock's pending timers, which a cancelled timer leaves (so the clock holds no
        call that has ended, however long it stands still)."""

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self in self._timers:
                self._timers.remove(self)


class VirtualClock:
    """Virtual seconds from 0; a timer's callback runs when `advance` passes its time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[VirtualTimer] = []
        self._started = asyncio.Event()

    def call_later(self, delay: float, callback: Callable[[], object]) -> VirtualTimer:
        timer = VirtualTimer(self.now + delay, callback, self._timers)
        self._timers.append(timer)
        self._started.set()
        return timer

    def advance(self, seconds: float) -> int:
        """Move time on by ``seconds``, running the callbacks of the timers due meanwhile in
        the order of their times; returns how many ran."""
        until = self.now + seconds
        ran = 0
        while due := [t for t in self._timers if not t.cancelled and t.when() <= until]:
            timer = min(due, key=VirtualTimer.when)
            self._timers.remove(timer)
            self.now = timer.when()
            timer.callback()
            ran += 1
        self.now = until
        return ran

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checked each time a timer starts."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._started.clear()
                await self._started.wait()
