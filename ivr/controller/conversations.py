"""Conversations the controller found bridged at reconcile but does not track as calls.

A controller restarted while a caller was talking to a contact centre finds a mixing bridge of
two channels nobody owns. It leaves the conversation alone and watches it: when one side hangs
up, the other is hung up and the bridge destroyed, as the call would have done. A side that
went while the event socket was down is noticed at the next reconcile instead.
"""

from __future__ import annotations

import contextlib

import structlog

from ivr.ari import AriClient, AriError
from ivr.ari.events import AriEvent, ChannelDestroyed, ChannelHangupRequest, StasisEnd
from ivr.call import ids

log = structlog.get_logger(__name__)


class AdoptedConversations:
    """Channel -> (other channel, bridge) of each conversation adopted at reconcile."""

    def __init__(self, ari: AriClient) -> None:
        self._ari = ari
        self._pairs: dict[str, tuple[str, str]] = {}

    def __contains__(self, channel: object) -> bool:
        return channel in self._pairs

    def channels(self) -> set[str]:
        return set(self._pairs)

    async def adopt(self, bridge_id: str, present: frozenset[str]) -> set[str]:
        """Watch a conversation nobody tracks until one side hangs up (returns its two
        channels); any other bridge of the application is destroyed."""
        try:
            bridge = await self._ari.get_bridge(bridge_id)
        except AriError:
            return set()
        members = [c for c in bridge.channels if c in present]
        if bridge.bridge_type == "mixing" and len(members) == 2:
            first, second = members
            self._pairs[first] = (second, bridge_id)
            self._pairs[second] = (first, bridge_id)
            log.info("controller.adopted_conversation", bridge=bridge_id)
            for caller in (c for c in members if not ids.is_leg(c)):
                # The earlier controller may have died between bridging the caller and
                # stopping their music on hold, which drowns the conversation for them.
                with contextlib.suppress(AriError):
                    await self._ari.stop_moh(channel_id=caller)
            return set(members)
        with contextlib.suppress(AriError):
            await self._ari.destroy_bridge(bridge_id)
        return set()

    async def end_broken(self, present: frozenset[str]) -> set[str]:
        """Conversations with a side gone while the socket was down (its end event lost with
        it, or Asterisk restarted): the side still there is hung up, as when the other side
        hangs up; returns those channels."""
        ended: set[str] = set()
        for channel, (other, bridge_id) in list(self._pairs.items()):
            if channel in present or channel not in self._pairs:
                continue
            del self._pairs[channel]
            self._pairs.pop(other, None)
            if other in present:
                ended.add(other)
            await self._end(other if other in present else None, bridge_id)
        return ended

    async def on_event(self, channel: str, event: AriEvent) -> None:
        """One side hung up: end the other and the bridge."""
        if not isinstance(event, ChannelHangupRequest | ChannelDestroyed | StasisEnd):
            return
        pair = self._pairs.pop(channel, None)
        if pair is None:
            return
        other, bridge_id = pair
        self._pairs.pop(other, None)
        await self._end(other, bridge_id)

    async def _end(self, other: str | None, bridge_id: str) -> None:
        if other is not None:
            with contextlib.suppress(AriError):
                await self._ari.hangup(other)
        with contextlib.suppress(AriError):
            await self._ari.destroy_bridge(bridge_id)
