"""Shared test helpers for the ARI tests: credentials and a background event collector."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ivr.ari import AriEvent, AriEventStream, Backoff

USER = "ivr311"
PASSWORD = "s3cret-pass"
APP = "ivr311"


class EventCollector:
    """Consume an `AriEventStream` in the background and let a test wait for what arrived."""

    def __init__(self, stream: AriEventStream) -> None:
        self.stream = stream
        self.events: list[AriEvent] = []
        self.listeners: list[Callable[[AriEvent], object]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.stream:
            self.events.append(event)
            for listener in self.listeners:
                listener(event)
            self._changed.set()

    async def wait_for(
        self, predicate: Callable[[list[AriEvent]], bool], timeout_s: float = 5.0
    ) -> list[AriEvent]:
        async with asyncio.timeout(timeout_s):
            while not predicate(self.events):
                self._changed.clear()
                await self._changed.wait()
        return self.events

    def of_type(self, type_: str) -> list[AriEvent]:
        return [e for e in self.events if e.type == type_]

    async def close(self) -> None:
        await self.stream.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)


FAST_BACKOFF = Backoff(initial_s=0.01, cap_s=0.05)


class BackoffProbe:
    """A jitter source for `AriEventStream` that counts the backoff pauses it is asked for."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value
        self.calls = 0
        self._changed = asyncio.Event()

    def draw(self) -> float:
        self.calls += 1
        self._changed.set()
        return self.value

    async def wait_count(self, count: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.calls < count:
                self._changed.clear()
                await self._changed.wait()
