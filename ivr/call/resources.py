"""What a call holds on the switch: its destination legs, its bridge, playbacks, and the music
on hold or ringing its caller hears, each released once when the call ends, whatever state it
ends in (404 = done)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from enum import Enum

import structlog

from ivr.ari.client import AriClient
from ivr.ari.errors import AriError
from ivr.call import ids
from ivr.call.media import play_requests
from ivr.call.record import TransferAttempt
from routing_rules.decision import Prompts, TransferTarget

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Leg:
    """A destination leg: one link of the fallback chain, dialled."""

    channel_id: str
    target: TransferTarget
    dialled_at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def mark_answered(self) -> None:
        self.answered_at = time.monotonic()

    def attempt(self, result: str) -> TransferAttempt:
        """The attempt, ended with ``result``; its ``ring_s`` runs from dialling until the
        destination answered (or, unanswered, until now): the ringing only."""
        until = self.answered_at if self.answered_at is not None else time.monotonic()
        return TransferAttempt(
            self.target.destination_id, result, round(until - self.dialled_at, 3)
        )


class Playing(Enum):
    """What came of a play request: the flow waits for the prompts' end unless NOTHING."""

    STARTED = "started"
    NOTHING = "nothing"
    """There was nothing to play."""
    FAILED = "failed"
    CHANNEL_GONE = "channel_gone"
    """The channel is gone or out of the application: its end event follows."""


class PromptPlayer:
    """The prompt set playing now on one of the call's channels: one playback, whatever
    languages the set mixes (`ivr.call.media.play_requests`), ids from `ids.playback_id` in
    sequence."""

    def __init__(self, ari: AriClient, call_id: str) -> None:
        self._ari = ari
        self._call_id = call_id
        self.pending: dict[str, str] = {}
        """playback id -> channel id, for the playbacks not finished yet."""
        self.awaited = False
        """Whether the flow waits for the set's end (not after a failed request)."""
        self._seq = 0

    async def play(self, channel_id: str, prompts: Prompts) -> Playing:
        await self.stop()
        requests = play_requests(prompts)
        if not requests:
            return Playing.NOTHING
        self.awaited = True
        for request in requests:
            self._seq += 1
            pb_id = ids.playback_id(self._call_id, self._seq)
            self.pending[pb_id] = channel_id
            try:
                await self._ari.play(channel_id, pb_id, request.media, request.language)
            except AriError as exc:
                self.pending.pop(pb_id, None)
                self.awaited = False
                if exc.is_gone or exc.is_conflict:
                    log.debug("call.play_failed", error=str(exc))
                    return Playing.CHANNEL_GONE
                log.warning("call.play_failed", error=str(exc))
                return Playing.FAILED
        return Playing.STARTED

    @property
    def started(self) -> int:
        """How many playbacks the call has started (the sequence number of the last)."""
        return self._seq

    def number_after(self, seq: int) -> None:
        """Number the next playbacks after ``seq`` (a call taken over: the earlier
        controller's may still be finishing)."""
        self._seq = max(self._seq, seq)

    def finished(self, playback_id: str) -> bool:
        """A playback finished; whether the flow's whole set is over now."""
        if self.pending.pop(playback_id, None) is None or self.pending:
            return False
        awaited, self.awaited = self.awaited, False
        return awaited

    async def stop(self) -> None:
        pending = list(self.pending)
        self.pending.clear()
        self.awaited = False
        await stop_playbacks(self._ari, pending, "call.stop_playback_failed")


async def stop_playbacks(
    ari: AriClient,
    playback_ids: list[str],
    failed_event: str,
    *,
    give_up: bool = False,
    **fields: str,
) -> None:
    """Stop ``playback_ids`` (in the order they were started) latest first, one at a time:
    stopping the playback in progress starts the next one queued, so the queued ones go first
    and the caller hears none of them (404 counts as done). A failure is logged as
    ``failed_event``; with ``give_up`` the rest are left (Asterisk is not answering, and each
    would wait as long)."""
    for playback_id in reversed(playback_ids):
        try:
            await ari.stop_playback(playback_id)
        except AriError as exc:
            log.warning(failed_event, error=str(exc), **fields)
            if give_up:
                return


class Resources:
    """Everything a call holds on the switch, with the ids it gave them."""

    def __init__(self, ari: AriClient, call_id: str) -> None:
        self._ari = ari
        self.call_id = call_id
        self.mixing_bridge = ids.mixing_bridge_id(call_id)
        self.prompts = PromptPlayer(ari, call_id)
        self.legs: dict[str, Leg] = {}
        """The legs not known to be gone, by channel id."""
        self.current_leg: Leg | None = None
        """The leg of the link being tried (or bridged)."""
        self.bridged = False
        """The call's mixing bridge exists (destroyed when the call ends)."""
        self.music = False
        """Music on hold plays on the caller's channel (stopped when they leave hold; a play
        on the channel suspends it)."""
        self.ringing = False
        """The caller hears a ringing indication instead of music on hold (stopped when they
        leave hold)."""

    def new_leg(self, link: int, target: TransferTarget) -> Leg:
        """The leg for link ``link`` (1, 2, ...), now the current one."""
        leg = Leg(ids.leg_id(self.call_id, link), target)
        self.legs[leg.channel_id] = leg
        self.current_leg = leg
        return leg

    @property
    def live_leg(self) -> Leg | None:
        """The current leg, unless it is gone."""
        leg = self.current_leg
        return leg if leg is not None and leg.channel_id in self.legs else None

    def forget_leg(self, leg: Leg) -> None:
        """The leg is gone (or was never dialled): nothing to hang up at the end."""
        self.legs.pop(leg.channel_id, None)

    async def hang_up_leg(self, leg: Leg) -> None:
        """Hang up a leg, unless it is gone already."""
        if self.legs.pop(leg.channel_id, None) is None:
            return
        try:
            await self._ari.hangup(leg.channel_id)
        except AriError as exc:
            log.warning("call.hangup_leg_failed", error=str(exc))

    async def stop_music(self, *, caller_gone: bool) -> None:
        """End the music on hold: Asterisk does not stop a channel's music when the channel
        joins a bridge, and while it plays the channel hears nothing of the bridge (404: the
        caller is gone, done). A stop that fails otherwise leaves the music counted as on, so
        that it is tried again (at the latest when the call releases what it holds)."""
        if not self.music:
            return
        if not caller_gone:
            try:
                await self._ari.stop_moh(channel_id=self.call_id)
            except AriError as exc:
                log.warning("call.cleanup_failed", error=str(exc))
                if not exc.is_conflict:
                    return
        self.music = False

    async def stop_ringing(self, *, caller_gone: bool) -> None:
        """End the ringing heard instead of music on hold (404: the caller is gone, done)."""
        if not self.ringing:
            return
        self.ringing = False
        if not caller_gone:
            await self.quietly(self._ari.stop_ringing(self.call_id))

    async def release(self, *, caller_gone: bool) -> None:
        """Stop the playbacks, the music and the ringing, hang up the legs, destroy the
        bridge."""
        prompts = self.prompts
        if caller_gone:
            prompts.pending = {pb: ch for pb, ch in prompts.pending.items() if ch != self.call_id}
        await prompts.stop()
        await self.stop_music(caller_gone=caller_gone)
        await self.stop_ringing(caller_gone=caller_gone)
        for leg_id in list(self.legs):
            self.legs.pop(leg_id, None)
            await self.quietly(self._ari.hangup(leg_id))
        if self.bridged:
            self.bridged = False
            await self.quietly(self._ari.destroy_bridge(self.mixing_bridge))

    async def quietly(self, request: Awaitable[object]) -> None:
        """A clean-up request: a failure is logged, not raised."""
        try:
            await request
        except AriError as exc:
            log.warning("call.cleanup_failed", error=str(exc))
