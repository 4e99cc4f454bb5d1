"""The warm transfer of one call, top-down: the announcement, hold, each link of the fallback
chain (dial, ring, whisper, accept) until one is bridged, else the final message.

The caller waits with music on hold on their own channel (one request, no bridge, nothing to
leave for the final message), or hears ringing when the music cannot start. Each link is
dialled as a leg with a fixed channel id into the application; a leg that answers hears the
whisper and, when the rules ask for it, presses the accept key; both are then bridged and the
caller's music stopped (Asterisk leaves a channel's music on when it joins a bridge, and while
it plays the caller hears nothing of the bridge). Busy, no answer, rejection, no accept, a ring
past the timeout or a failed originate moves on to the next link; after the last, the caller
hears the number to call (playing to the caller's channel suspends its music). A ringing leg
found gone after the event socket was down is dialled once more before the chain moves on. A
caller who hangs up ends the call wherever the transfer is (the call stops this flow and
cleans up).

A transfer taken over after a controller restart (`TransferResume`) skips the announcement,
starts the caller's music again (music still playing goes on: Asterisk ignores a start of the
class already playing; music that had stopped, or ringing, gives way to it), and goes on at the
saved link: it waits for that link's leg when it still rings, whispers to it when it answered
meanwhile, and dials it again when it is gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeGuard

import structlog

from ivr.ari.errors import AriError
from ivr.call import ids
from ivr.call.flow import (
    Expired,
    FlowEvent,
    LegAnswered,
    LegGone,
    LegKey,
    PromptsDone,
)
from ivr.call.observers import first_destination
from ivr.call.resources import Leg
from ivr.call.states import COMPLETED, MESSAGE_PLAYED, CallState, HoldMusicFailed, Link
from routing_rules.decision import Decision, Transfer, TransferTarget
from routing_rules.policy import dial_string

if TYPE_CHECKING:
    from ivr.call.machine import Call

log = structlog.get_logger(__name__)

Q850_RESULTS = {17: "busy", 19: "no_answer", 18: "no_answer", 21: "rejected"}
LOST = "lost"
"""A ringing leg that ended while the event socket was down (how is not known)."""


LegFound = Literal["gone", "ringing", "answered"]


@dataclass(frozen=True)
class TransferResume:
    """Where a transfer taken over after a restart goes on."""

    link: int
    """The index in the chain of the link to go on with."""
    leg: LegFound
    """What became of that link's leg: gone (dialled again), ringing or answered (adopted)."""


async def run_transfer(
    call: Call, step: Transfer, decision: Decision, why: str, resume: TransferResume | None = None
) -> None:
    """Carry out a transfer decision, to the end of the conversation or the final message."""
    call.enter(
        CallState.TRANSFER_HOLD,
        f"{why}: {step.kind} transfer to {first_destination(step)}",
        decision=decision,
    )
    await carry_out(call, step, resume)


async def carry_out(call: Call, step: Transfer, resume: TransferResume | None = None) -> None:
    """The transfer from hold on (the call is in ``transferring.hold``)."""
    if resume is None:
        await call.play_through(call.call_id, step.announce)
    if step.chain and not await _hold(call):
        return  # the caller is gone: their end event ends the call
    start = resume.link if resume is not None else 0
    for index, target in enumerate(step.chain[start:], start):
        link = Link(step.kind, index, target)
        leg = call.resources.new_leg(index + 1, target)
        call.register_leg(leg.channel_id)
        call.enter(CallState.TRANSFER_RINGING, f"dialling {target.destination_id}", link=link)
        found = resume.leg if resume is not None and index == start else "gone"
        if found == "answered":
            leg.mark_answered()
            result = "answered"
        else:
            result = await _ring(call, leg, dial=found == "gone")
        if result == LOST:
            leg, result = await _ring_again(call, leg, index + 1)
        if result == "answered":
            call.enter(CallState.TRANSFER_WHISPER, f"{target.destination_id} answered", link=link)
            result = await _connect(call, leg, link)
        if result == "bridged":
            await _until_the_destination_hangs_up(call)
            return
        call.note(leg.attempt(result))
    await _final_message(call, step)


async def _hold(call: Call) -> bool:
    """Play music on hold on the caller's channel (or ring); False when the caller turned out
    to be gone."""
    try:
        await call.ari.start_moh(channel_id=call.call_id, moh_class=call.settings.hold_music_class)
    except AriError as exc:
        if exc.is_gone or exc.is_conflict:  # the caller hung up or left the application
            log.warning("call.hold_failed", error=str(exc))
            call.end_follows = True
            return False
        # Any other failure (a 5xx, no answer at all): the music may have started, so it is
        # stopped when hold ends, as the ringing is.
        call.resources.music = True
        return await _ring_instead_of_music(call, exc)
    call.resources.music = True
    return True


async def _ring_instead_of_music(call: Call, failure: AriError) -> bool:
    """Music on hold could not start (Asterisk refused or did not answer): the caller
    hears ringing while the destinations ring, never silence. Counted and logged once.
    Returns False when the caller turned out to be gone (their end event follows)."""
    ring_failure: AriError | None = None
    try:
        await call.ari.ring(call.call_id)
    except AriError as exc:
        ring_failure = exc
    # No answer at all: the ringing may have started, so it is stopped when hold ends.
    call.resources.ringing = ring_failure is None or ring_failure.status is None
    fallback: Literal["ringing", "none"] = "ringing" if ring_failure is None else "none"
    call.note(HoldMusicFailed(fallback))
    log.warning(
        "call.hold_music_failed",
        error=str(failure),
        status=failure.status,
        fallback=fallback,
        **({"fallback_error": str(ring_failure)} if ring_failure is not None else {}),
    )
    if ring_failure is not None and (ring_failure.is_gone or ring_failure.is_conflict):
        call.end_follows = True
        return False
    return True


async def _ring(call: Call, leg: Leg, *, dial: bool = True) -> str:
    """Dial the leg (unless it rings already) and wait until it answers (``answered``) or
    fails (busy, no_answer, rejected, failed); a leg that rings past its timeout and grace is
    hung up (no_answer)."""
    target = leg.target
    timeout_s = max(1, math.ceil(target.ring_timeout_s))
    if dial and not await _originate(call, leg, target, timeout_s):
        return "failed"
    with call.timer("ring", timeout_s + call.settings.ring_grace_s):
        while True:
            event = await call.receive()
            if isinstance(event, LegAnswered) and event.leg is leg:
                leg.mark_answered()
                return "answered"
            if _is_gone(event, leg):
                return LOST if event.unseen else Q850_RESULTS.get(event.cause or 0, "failed")
            if isinstance(event, Expired):
                await call.resources.hang_up_leg(leg)
                return "no_answer"


async def _ring_again(call: Call, lost: Leg, link: int) -> tuple[Leg, str]:
    """The leg ended while the event socket was down, how is not known: a destination that
    answers then cannot enter the application (Asterisk refuses an inactive one) and is hung
    up. The same link is dialled once more, on a new leg; lost again, it has failed."""
    call.note(lost.attempt(LOST))
    leg = call.resources.new_leg(link, lost.target)
    call.register_leg(leg.channel_id)
    result = await _ring(call, leg)
    return leg, "failed" if result == LOST else result


async def _originate(call: Call, leg: Leg, target: TransferTarget, timeout_s: int) -> bool:
    try:
        await call.ari.originate(
            leg.channel_id,
            dial_string(target.dial, call.settings.dial_endpoint),
            app_args=(ids.TRANSFER_ARG, call.call_id),
            caller_id=target.caller_id or None,
            timeout_s=timeout_s,
            originator=call.call_id,
        )
    except AriError as exc:
        log.warning("call.originate_failed", error=str(exc), leg=leg.channel_id)
        call.resources.forget_leg(leg)
        return False
    return True


async def _connect(call: Call, leg: Leg, link: Link) -> str:
    """Whisper to the answered leg, wait for its accept key when the rules ask for one, and
    bridge: ``bridged``, or ``not_accepted`` when the leg hangs up or the key does not come."""
    whisper = await _whisper(call, leg)
    if whisper == "gone":
        return "not_accepted"
    if whisper == "played" and leg.target.accept_key is not None:
        call.enter(CallState.TRANSFER_AWAITING_ACCEPT, "whisper played", link=link)
        with call.timer("accept", call.settings.accept_timeout_s):
            accepted = await _accept_key(call, leg)
        if not accepted:
            await call.resources.hang_up_leg(leg)
            return "not_accepted"
    while not await _bridge(call, leg, link):
        # Asterisk refused: the caller or the leg is gone or going. The leg's end moves on to
        # the next link (the caller's ends the call); the accept key again tries again.
        if not await _accept_key(call, leg):
            return "not_accepted"
    return "bridged"


async def _whisper(call: Call, leg: Leg) -> Literal["played", "accepted", "gone"]:
    """Play the whisper to the leg; the accept key or the leg's end cut it short."""
    if await call.play(leg.channel_id, leg.target.whisper):
        while not isinstance(event := await call.receive(), PromptsDone):
            if _is_gone(event, leg) or _accepts(event, leg):
                await call.stop_prompts()
                return "gone" if isinstance(event, LegGone) else "accepted"
    return "played"


async def _accept_key(call: Call, leg: Leg) -> bool:
    """Wait for the leg's accept key (True), its end or the accept timer (False)."""
    while True:
        event = await call.receive()
        if _accepts(event, leg):
            return True
        if _is_gone(event, leg) or isinstance(event, Expired):
            return False


def _is_gone(event: FlowEvent, leg: Leg) -> TypeGuard[LegGone]:
    return isinstance(event, LegGone) and event.leg is leg


def _accepts(event: FlowEvent, leg: Leg) -> bool:
    return isinstance(event, LegKey) and event.leg is leg and event.digit == leg.target.accept_key


async def _bridge(call: Call, leg: Leg, link: Link) -> bool:
    ari, resources = call.ari, call.resources
    try:
        await ari.create_bridge(resources.mixing_bridge)
        resources.bridged = True
        await ari.add_channels(resources.mixing_bridge, [call.call_id, leg.channel_id])
    except AriError as exc:
        log.warning("call.bridge_failed", error=str(exc))
        return False
    await call.stop_music()
    await call.stop_ringing()
    call.note(leg.attempt("answered"))
    call.enter(CallState.BRIDGED, f"connected to {leg.target.destination_id}", link=link)
    return True


async def _until_the_destination_hangs_up(call: Call) -> None:
    while not isinstance(await call.receive(), LegGone):
        pass
    log.debug("call.destination_hung_up")
    await call.finish(COMPLETED, hang_up_caller=True)


async def _final_message(call: Call, step: Transfer) -> None:
    """No link connected (or the chain was empty): the caller hears the number to call. The
    play suspends the caller's music (Asterisk stops a channel's music to play to it, and does
    not start it again), so the message follows hold at once; after a failed play the music is
    still stopped when the call hands the caller over (`Call.play`)."""
    await call.stop_ringing()
    call.enter(CallState.MESSAGE, "no link of the chain connected")
    await call.play_through(call.call_id, step.final_message)
    await call.finish(MESSAGE_PLAYED, hang_up_caller=True)
