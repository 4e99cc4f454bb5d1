"""What the call's ARI events mean for its flow: a key, the prompts' end, a leg answering or
gone, a transfer the dialplan carried out ending; or the end of the call.

The caller's channel, its originated legs and its playbacks all map to one call; `intake`
turns each of their events into the `FlowEvent` the flow waits for (None: nothing for the
flow). The caller hanging up or leaving the application ends the call here, wherever the flow
is. After a reconnect, `missed` tells what the events lost while the socket was down would
have told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from dialplan.transfer_plan import OUTCOME_VARIABLE
from ivr.ari.errors import AriError
from ivr.ari.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    event_channel_id,
)
from ivr.call.flow import (
    CallerKey,
    FlowEvent,
    LegAnswered,
    LegGone,
    LegKey,
    PromptsDone,
    TransferEnded,
)
from ivr.call.resources import Leg
from ivr.call.states import CALLER_HANGUP, LEFT_APPLICATION, CallState

if TYPE_CHECKING:
    from ivr.call.machine import Call


async def intake(call: Call, event: AriEvent) -> FlowEvent | None:
    """What an event means for the flow (None: nothing), or the end of the call."""
    channel = event_channel_id(event)
    if channel == call.call_id:
        return await _caller_event(call, event)
    leg = call.resources.legs.get(channel) if channel is not None else None
    return _leg_event(call, leg, event) if leg is not None else None


async def missed(call: Call, present: frozenset[str]) -> AsyncIterator[FlowEvent]:
    """After a reconnect, what the events missed while the socket was down would have told,
    one at a time (the call moves on with each before the next is worked out).

    ``present`` are the channels Asterisk still holds for the application. A prompt whose
    end may have been missed is stopped and counts as ended, so the caller is never left in
    silence; a leg that is gone counts as a failed link, and one that answered meanwhile as
    answered (its StasisStart, should it still come, is not taken as a second answer)."""
    legs = list(call.resources.legs.values())  # before the call moves on
    prompts = call.resources.prompts
    if prompts.pending:
        awaited = prompts.awaited
        await call.stop_prompts()
        if awaited:
            yield PromptsDone()
    for leg in legs:
        if call.state is CallState.ENDED or call.resources.legs.get(leg.channel_id) is not leg:
            continue
        if leg.channel_id not in present:
            yield _leg_gone(call, leg, None, unseen=True)
        elif not leg.answered and await _answered_meanwhile(call, leg):
            yield LegAnswered(leg)


async def _answered_meanwhile(call: Call, leg: Leg) -> bool:
    """Whether a ringing leg answered while the socket was down (its StasisStart lost)."""
    try:
        channel = await call.ari.get_channel(leg.channel_id)
    except AriError:
        return False  # gone meanwhile: its end event follows
    return channel.state == "Up"


async def _caller_event(call: Call, event: AriEvent) -> FlowEvent | None:
    if call.in_dialplan:
        # Leaving the application was the hand-over; only the caller's end matters, with
        # what the dialplan noted of the transfer, and when the caller hung up.
        if isinstance(event, ChannelHangupRequest) and call.hung_up_at is None:
            call.hung_up_at = event.unix_time
        if not isinstance(event, ChannelDestroyed):
            return None
        call.caller_gone = True
        channelvars = event.channel.channelvars or {}
        return TransferEnded(channelvars.get(OUTCOME_VARIABLE), call.hung_up_at)
    match event:
        case ChannelDtmfReceived():
            return CallerKey(event.digit)
        case PlaybackFinished():
            return _playback_finished(call, event)
        case ChannelHangupRequest() | ChannelDestroyed():
            call.caller_gone = True
            await call.finish(CALLER_HANGUP)
        case StasisEnd():
            # Left the application without hanging up: the dialplan has the call now.
            call.caller_gone = True
            await call.finish(LEFT_APPLICATION)
    return None


def _leg_event(call: Call, leg: Leg, event: AriEvent) -> FlowEvent | None:
    match event:
        case StasisStart() if not leg.answered:  # answered: already seen at a resume
            return LegAnswered(leg)
        case ChannelDtmfReceived():
            return LegKey(leg, event.digit)
        case PlaybackFinished():
            return _playback_finished(call, event)
        case ChannelDestroyed():
            return _leg_gone(call, leg, event.cause)
        case ChannelHangupRequest() if leg.answered:
            return _leg_gone(call, leg, event.cause)
        case StasisEnd() if leg.answered:
            return _leg_gone(call, leg, None)
    return None


def _playback_finished(call: Call, event: PlaybackFinished) -> FlowEvent | None:
    return PromptsDone() if call.resources.prompts.finished(event.playback.id) else None


def _leg_gone(call: Call, leg: Leg, cause: int | None, *, unseen: bool = False) -> LegGone:
    call.resources.forget_leg(leg)
    return LegGone(leg, cause, unseen)
