"""A caller on hold hears music on hold on their own channel while the destinations ring, never
silence and never music over the conversation: when the music cannot start they hear ringing,
which stops on every way out of hold (bridged, hung up, final message, handed back)."""

from __future__ import annotations

import asyncio

import pytest
from ivr_testing import Harness, LogLines, inside_number

from ivr.call import ids
from switchsim import ChannelRecord, Outcome, SwitchError

FALLBACK = ("ivr311-fallback", "311", 1)

MUSIC_REFUSED = SwitchError(500, "Internal Server Error")
"""Asterisk failing the request to start music on hold on the caller's channel."""

HOLD_MUSIC_FAILURES = "ivr311_hold_music_failures_total"


def _first(record: ChannelRecord, prefix: str) -> int:
    """Position of the first line of the channel's history that starts with ``prefix``."""
    return next(i for i, line in enumerate(record.history) if line.startswith(prefix))


async def _on_hold(harness: Harness, centres: Outcome, *, music: bool) -> ChannelRecord:
    """A caller put on hold while music on hold works (``music``) or fails; the centres do
    ``centres``. Returns the caller's record once they hear the music, or ringing instead."""
    if not music:
        harness.switch.channel_moh_error = MUSIC_REFUSED
    harness.switch.default_outcome = centres
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.moh if music else caller.rang)
    return caller


MUSIC_OR_RINGING = pytest.mark.parametrize("music", [True, False], ids=["music", "ringing"])
"""What the caller hears on hold: music on hold, or ringing when the music is refused."""


async def test_without_music_the_caller_hears_ringing_until_bridged(
    harness: Harness, logged: LogLines
) -> None:
    caller = await _on_hold(harness, Outcome(kind="answer", press="1"), music=False)
    # The ringing stops once the caller talks to the centre.
    await harness.until(lambda: bool(caller.bridged_with) and not caller.ringing)

    assert not caller.moh
    bridged = "entered mixing bridge"
    assert _first(caller, "ringing") < _first(caller, bridged) < _first(caller, "ringing stopped")
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == 1

    harness.switch.hangup_caller(caller.channel_id)
    record = await harness.ended(caller.channel_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "completed"
    warnings = [line for line in logged if line["log_level"] == "warning"]
    assert [line["event"] for line in warnings] == ["call.hold_music_failed"]
    assert warnings[0]["status"] == 500 and warnings[0]["fallback"] == "ringing"
    assert warnings[0]["call_id"] == caller.channel_id


async def test_a_caller_who_hangs_up_while_ringing_leaves_nothing_behind(
    harness: Harness,
) -> None:
    caller = await _on_hold(harness, Outcome(kind="ring"), music=False)
    await harness.until(
        lambda: any(r.originator == caller.channel_id for r in harness.switch.records.values())
    )
    call = harness.live(caller.channel_id)
    await harness.controller.persistor.settled()  # the hold state saved before the hang-up
    requests = len(harness.fake.requests)

    harness.switch.hangup_caller(caller.channel_id)
    record = await harness.ended(caller.channel_id)
    await harness.until(harness.nothing_left)

    assert record["outcome"] == "caller_hangup"
    assert not caller.ringing and not call.pending_timers
    refused = [r for r in harness.fake.requests[requests:] if r.status >= 400]
    assert refused == [], "nothing is cleaned up twice or on a channel that is gone"
    assert harness.metric("ivr311_calls_abandoned_total", {"stage": "ringing"}) == 1


def _bridges_created(harness: Harness) -> list[str]:
    """The ids of the bridges the controller asked the switch to create, in order."""
    return [
        r.path.removeprefix("/ari/bridges/")
        for r in harness.fake.requests
        if r.method == "POST" and r.path.count("/") == 3 and r.path.startswith("/ari/bridges/")
    ]


async def test_music_while_the_centre_rings_no_bridge_before_the_accept_none_after(
    harness: Harness,
) -> None:
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    leg_id = ids.leg_id(call_id, 1)
    await harness.until(lambda: leg_id in harness.switch.channels)
    await harness.until(harness.state_is(call_id, "transferring.ringing"))

    # While the centre rings, the caller hears music on their own channel, in no bridge.
    assert caller.moh and not caller.rang
    assert caller.bridges == [] and _bridges_created(harness) == []

    harness.switch.destination_answers(leg_id, press="")
    await harness.until(harness.state_is(call_id, "transferring.awaiting_accept"))
    assert caller.moh and _bridges_created(harness) == []  # still waiting, with music

    harness.switch.press(leg_id, "1")
    await harness.until(lambda: caller.bridged_with == [leg_id] and not caller.moh)
    # The music stops once the caller is in the conversation, and does not come back.
    music = [h for h in caller.history if h.startswith("moh")]
    assert music == ["moh on default", "moh off"]
    assert _first(caller, "moh on") < _first(caller, "entered mixing bridge")
    assert _first(caller, "entered mixing bridge") < _first(caller, "moh off")
    assert _bridges_created(harness) == [ids.mixing_bridge_id(call_id)]
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == 0

    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "completed"
    assert not caller.moh


@MUSIC_OR_RINGING
async def test_the_final_message_follows_the_hold_sound(harness: Harness, *, music: bool) -> None:
    """Every centre is busy: the caller goes from the music (or ringing) to the number to call,
    with no bridge to leave first; playing the message is what ends the music."""
    caller = await _on_hold(harness, Outcome(kind="busy"), music=music)
    call_id = caller.channel_id
    await harness.until(lambda: caller.destroyed)

    assert "transfer-failed" in harness.heard(call_id)
    message = _first(caller, "play sound:ivr311/transfer-failed")
    starts, stops = ("moh on", "moh suspended") if music else ("ringing", "ringing stopped")
    assert _first(caller, starts) < _first(caller, stops) < message
    if music:
        assert _first(caller, stops) == message - 1
    assert not caller.ringing
    assert caller.bridges == [] and _bridges_created(harness) == []
    assert harness.requests_for(call_id, "moh", "DELETE") == 0
    record = await harness.ended(call_id)
    assert record["outcome"] == "message"
    assert [a["result"] for a in record["attempts"]] == ["busy"]
    assert harness.metric("ivr311_fallbacks_total", {"kind": "final_message"}) == 1
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == (0 if music else 1)


@MUSIC_OR_RINGING
async def test_the_hold_sound_is_stopped_before_the_caller_is_handed_back(
    harness: Harness, *, music: bool
) -> None:
    """Asterisk's music or ringing tone would follow the caller into the dialplan: it is
    stopped first."""
    caller = await _on_hold(harness, Outcome(kind="ring"), music=music)
    drain = asyncio.create_task(harness.controller.drain(timeout_s=0))
    await harness.until(lambda: caller.continued_to is not None)
    await harness.wait(drain)

    assert caller.continued_to == FALLBACK
    stopped = "moh off" if music else "ringing stopped"
    assert _first(caller, stopped) < _first(caller, "continued to")
    assert not caller.moh and not caller.ringing
    assert harness.metric("ivr311_calls_handed_back_total", {"reason": "drain"}) == 1
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == (0 if music else 1)


async def test_music_that_started_unanswered_is_stopped_once_bridged(
    http_harness: Harness,
) -> None:
    """Asterisk started the music but its answer never came (twice, retry included): the
    caller hears ringing as well, and both stop once they talk to the centre."""
    harness = http_harness
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    for _ in range(2):
        harness.fake.lose_next_answer("POST", f"/ari/channels/{call_id}/moh")
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    leg_id = ids.leg_id(call_id, 1)
    await harness.until(lambda: leg_id in harness.switch.channels and caller.moh)
    await harness.until(harness.state_is(call_id, "transferring.ringing"))

    harness.switch.destination_answers(leg_id, press="1")
    await harness.until(lambda: caller.bridged_with == [leg_id])
    await harness.until(lambda: not caller.moh and not caller.ringing)
    assert _first(caller, "entered mixing bridge") < _first(caller, "moh off")


STOP_ATTEMPTS = 4
"""How often a music stop reaches the switch before the client gives up on an answer: twice
(its own retry), each sent once more by the HTTP library when a kept-alive connection was cut."""


def _music_stops(harness: Harness, *, answered: bool = False) -> int:
    """The requests to stop a channel's music the switch received (``answered``: and answered)."""
    return sum(
        1
        for r in harness.fake.requests
        if r.method == "DELETE" and r.path.endswith("/moh") and (r.status > 0 or not answered)
    )


async def test_music_whose_stop_went_unanswered_is_stopped_again_at_the_end(
    http_harness: Harness,
) -> None:
    """Asterisk did not answer the stop (retries included): the call still counts the music as
    on and stops it again when it ends."""
    harness = http_harness
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    for _ in range(STOP_ATTEMPTS):
        harness.fake.lose_next_answer("DELETE", f"/ari/channels/{call_id}/moh")
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    leg_id = ids.leg_id(call_id, 1)
    await harness.until(lambda: caller.bridged_with == [leg_id])
    await harness.until(harness.state_is(call_id, "bridged"))
    assert _music_stops(harness, answered=True) == 0

    harness.switch.hangup_caller(leg_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"
    assert _music_stops(harness, answered=True) == 1


async def test_music_is_stopped_at_the_hand_over_when_the_final_message_went_unanswered(
    http_harness: Harness,
) -> None:
    """Asterisk did not answer the final message's play, which may not have started: the
    music it would have ended is stopped before the caller is handed to the fallback context."""
    harness = http_harness
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    await harness.until(harness.state_is(call_id, "transferring.ringing"))
    message_seq = harness.live(call_id).resources.prompts.started + 1
    harness.fake.lose_next_answer(
        "POST", f"/ari/channels/{call_id}/play/{ids.playback_id(call_id, message_seq)}"
    )
    await harness.expire(call_id, "ring")
    await harness.until(harness.state_is(call_id, "message"))
    drain = asyncio.create_task(harness.controller.drain(timeout_s=0))
    await harness.until(lambda: caller.continued_to is not None)
    await harness.wait(drain)

    assert _music_stops(harness) == 1
    assert _first(caller, "moh off") < _first(caller, "continued to")
