"""Which callers a restarted controller can pick up, and where each stands.

At reconcile, a caller the controller does not know (the previous controller died, or its
StasisStart was lost with a socket) is taken over when its channel carries a resumable saved
state (`ivr.call.persistor`): in a menu, a status check, or on hold while its transfer goes on
(or in the greeting, as an earlier release saved it). For a transfer, the leg of the link it
was dialling is looked up: gone (dialled again), ringing or answered (adopted). A caller with
no saved state at all is `Unsaved`: nothing is written before the first menu, status check or
transfer, so it was in the greeting (or its later writes failed), or nobody had it yet; the
controller starts it afresh. A caller on hold hears music on their own channel, in no bridge:
one with a leg of its transfer still up is never `Unsaved` (the state writes failed
mid-transfer) and is left to the fallback context, as a caller whose state is unreadable or
does not resume; one between two links, no leg up, cannot be told from a caller in the greeting
and is greeted again (the greeting's play ends the music).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

import structlog

from ivr.ari import AriClient, AriError
from ivr.ari.events import Channel, in_stasis
from ivr.call import SavedCall, TransferResume, ids
from ivr.call.states import TRANSFERRING
from ivr.call.transfer import LegFound

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Takeover:
    """A caller to take over: its channel, its saved state and, in a transfer, where the
    transfer goes on and the leg to adopt (None when that leg is gone)."""

    channel: Channel
    saved: SavedCall
    resume: TransferResume | None
    leg_id: str | None

    @property
    def in_stasis(self) -> bool:
        """The caller is in the application; one whose transfer the earlier controller handed
        to the dialplan (saved with its plan) may have left it already."""
        return in_stasis(self.channel)


@dataclass(frozen=True, slots=True)
class Unsaved:
    """A channel in the application with no saved state and no leg of its transfer up (a
    caller on hold between two links is one): its caller, when its Stasis arguments are an
    inbound call's, is started afresh (from the greeting)."""

    channel: Channel


async def callers_to_pick_up(
    ari: AriClient,
    variable: str,
    unknown: Collection[str],
    present: frozenset[str],
    bridges: Collection[str],
) -> AsyncIterator[Takeover | Unsaved]:
    """The callers among ``unknown`` whose saved state (in channel variable ``variable``) is
    resumable, and those with none, one at a time, so each is registered before the next is
    looked at. A caller in a conversation is left to `ivr.controller.conversations`."""
    dialling = {ids.leg_owner(c) for c in present if ids.is_leg(c)}
    for channel_id in sorted(c for c in unknown if not ids.is_leg(c)):
        if ids.mixing_bridge_id(channel_id) in bridges:
            continue
        try:
            raw = await ari.get_variable(channel_id, variable)
            channel = await ari.get_channel(channel_id)
        except AriError:
            continue
        if not raw:
            if channel_id not in dialling:
                yield Unsaved(channel)
            continue
        saved = SavedCall.decode(raw)
        if saved is None or not saved.resumable:
            log.warning("controller.saved_state_not_resumable", channel=channel_id)
            continue
        if saved.state not in TRANSFERRING or saved.plan is not None:
            yield Takeover(channel, saved, None, None)
            continue
        link = saved.link or 0
        leg_id = ids.leg_id(channel_id, link + 1)
        found = await _leg_found(ari, leg_id, present)
        resume = TransferResume(link, found)
        yield Takeover(channel, saved, resume, None if found == "gone" else leg_id)


async def _leg_found(ari: AriClient, leg_id: str, present: frozenset[str]) -> LegFound:
    if leg_id not in present:
        return "gone"
    try:
        leg = await ari.get_channel(leg_id)
    except AriError:
        return "gone"
    return "answered" if leg.state == "Up" else "ringing"
