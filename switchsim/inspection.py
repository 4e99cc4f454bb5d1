"""Inspecting what happened on the simulated switch: each channel's record, the events it
emitted, and waiting (on its changes, never on the clock) until something is true."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from switchsim.asterisk import SimulatedAsterisk
from switchsim.objects import Waiter
from switchsim.records import ChannelRecord


class SwitchInspection(SimulatedAsterisk):
    """What happened: records and events to query, and waits until a condition holds."""

    def record(self, channel_id: str) -> ChannelRecord:
        """What happened to a channel (KeyError when the switch never saw it)."""
        return self.records[channel_id]

    def outbound_records(self, endpoint_contains: str = "") -> list[ChannelRecord]:
        """Originated legs, oldest first, optionally only those whose endpoint contains a text."""
        return [
            r
            for r in self.records.values()
            if r.direction == "outbound" and endpoint_contains in r.endpoint
        ]

    def mark(self) -> int:
        """Position in the event log, for `wait_event(..., since=mark)`."""
        return len(self.events)

    def find_events(
        self, type_: str, *, channel_id: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        """Emitted events of a type (about a channel), from position ``since`` on."""
        return [
            e.payload
            for e in self.events[since:]
            if e.payload["type"] == type_
            and (channel_id is None or event_channel(e.payload) == channel_id)
        ]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout_s: float = 5.0,
        *,
        channel_id: str | None = None,
    ) -> None:
        """Wait until ``predicate()`` is true; it is re-checked after every change of state, or,
        with ``channel_id``, after every change of that channel's record only (for a predicate
        on that record alone: many such waiters cost a change nothing but its own channel's).

        Raises TimeoutError after ``timeout_s``.
        """
        if predicate():
            return
        waiter = Waiter(predicate, asyncio.get_running_loop().create_future())
        waiters = (
            self._waiters
            if channel_id is None
            else self._channel_waiters.setdefault(channel_id, [])
        )
        waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter.future
        finally:
            waiters.remove(waiter)
            if channel_id is not None and not waiters:
                del self._channel_waiters[channel_id]

    def recheck(self) -> None:
        """Re-check the waiting predicates now, for those that also read what changes outside
        the switch (a call's state in the controller)."""
        self._changed()

    async def wait_event(
        self,
        type_: str,
        *,
        channel_id: str | None = None,
        since: int = 0,
        timeout_s: float = 5.0,
    ) -> dict[str, Any]:
        """Wait for an event of a type (about a channel) emitted at or after ``since``; returns
        the first such event's JSON."""
        found: list[dict[str, Any]] = []
        cursor = since

        def arrived() -> bool:
            nonlocal cursor
            found.extend(self.find_events(type_, channel_id=channel_id, since=cursor))
            cursor = len(self.events)  # each check only looks at events it has not seen
            return bool(found)

        await self.wait_for(arrived, timeout_s)
        return found[0]


def event_channel(payload: Mapping[str, Any]) -> str | None:
    """The channel an emitted event is about (as the client's `event_channel_id`)."""
    if "playback" in payload:
        kind, _, ident = str(payload["playback"].get("target_uri", "")).partition(":")
        return ident if kind == "channel" else None
    if payload.get("type") == "Dial":
        return str(payload["peer"]["id"])
    channel = payload.get("channel")
    return str(channel["id"]) if isinstance(channel, dict) else None
