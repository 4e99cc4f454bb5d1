"""Per-call ordered event dispatch: one call's events in order, different calls concurrently.

Each event is routed to a key chosen by the consumer (the controller maps an originated leg's
channel to its caller's call id, so a whole call is one key). Each key has its own queue and
worker task; the worker exists only while the key has events waiting, so finished calls leave
nothing behind. The reader never blocks: a key whose queue is full drops further *droppable*
events (by default DTMF digits, so a key-press flood on one call cannot grow memory or delay
other calls); lifecycle events are never dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from ivr.ari.events import AriEvent, ChannelDtmfReceived, event_channel_id

log = structlog.get_logger(__name__)

EventHandler = Callable[[str, AriEvent], Awaitable[None]]
KeyFunction = Callable[[AriEvent], str | None]


def is_dtmf(event: AriEvent) -> bool:
    """The default droppable events: DTMF digits."""
    return isinstance(event, ChannelDtmfReceived)


class CallDispatcher:
    """Run ``handler(key, event)`` for each event, in order per key, concurrently across keys.

    ``key_for`` picks the key of an event (default: the channel it is about); events with no key
    are ignored. ``max_pending`` bounds each key's queue for droppable events. A handler that
    raises is logged and the key's next event still runs.
    """

    def __init__(
        self,
        handler: EventHandler,
        *,
        key_for: KeyFunction = event_channel_id,
        max_pending: int = 64,
        droppable: Callable[[AriEvent], bool] = is_dtmf,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._handler = handler
        self._key_for = key_for
        self._max_pending = max_pending
        self._droppable = droppable
        self._queues: dict[str, deque[AriEvent]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._dropped_by_key: dict[str, int] = {}
        self.dropped = 0
        """Droppable events discarded because their key's queue was full."""
        self.unrouted = 0
        """Events ignored because ``key_for`` gave no key."""

    def dispatch(self, event: AriEvent) -> bool:
        """Queue an event for its key without waiting; False when it was ignored or dropped."""
        key = self._key_for(event)
        if key is None:
            self.unrouted += 1
            return False
        return self.submit(key, event)

    def submit(self, key: str, event: AriEvent) -> bool:
        """Queue an event for an explicit key; False when dropped because the queue is full."""
        queue = self._queues.setdefault(key, deque())
        if len(queue) >= self._max_pending and self._droppable(event):
            self.dropped += 1
            dropped_here = self._dropped_by_key.get(key, 0) + 1
            self._dropped_by_key[key] = dropped_here
            if dropped_here == 1 or dropped_here % 100 == 0:
                log.warning(
                    "ari.events_dropped", key=key, event_type=event.type, dropped=dropped_here
                )
            return False
        queue.append(event)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._drain(key), name=f"ari-call-{key}")
        return True

    def pending(self, key: str) -> int:
        """Events queued for ``key`` and not yet started."""
        queue = self._queues.get(key)
        return len(queue) if queue is not None else 0

    @property
    def active_keys(self) -> frozenset[str]:
        """Keys with events queued or being handled."""
        return frozenset(self._workers)

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel every worker and drop queued events."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        self._dropped_by_key.clear()

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                event = queue.popleft()
                try:
                    await self._handler(key, event)
                except Exception:
                    log.exception("ari.handler_failed", key=key, event_type=event.type)
        finally:
            # No await between the empty check above and here, so no event can slip in unseen.
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
                if not queue:
                    del self._queues[key]
                    self._dropped_by_key.pop(key, None)
