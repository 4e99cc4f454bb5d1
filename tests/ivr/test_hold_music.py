"""A caller on hold never hears silence: when music on hold cannot start they hear ringing,
which stops on every way out of hold (bridged, hung up, final message, handed back)."""

from __future__ import annotations

import asyncio

from ivr_testing import Harness, LogLines, inside_number

from switchsim import ChannelRecord, Outcome, SwitchError

FALLBACK = ("ivr311-fallback", "311", 1)

NO_BRIDGE_MEDIA = SwitchError(500, "Allocation failed")
"""What Asterisk answers to bridge music on hold without chan_bridge_media."""

HOLD_MUSIC_FAILURES = "ivr311_hold_music_failures_total"


def _first(record: ChannelRecord, prefix: str) -> int:
    """Position of the first line of the channel's history that starts with ``prefix``."""
    return next(i for i, line in enumerate(record.history) if line.startswith(prefix))


async def _on_hold_without_music(harness: Harness, centres: Outcome) -> ChannelRecord:
    """A caller put on hold while bridge music on hold fails; the centres do ``centres``.
    Returns the caller's record once they hear ringing."""
    harness.switch.bridge_moh_error = NO_BRIDGE_MEDIA
    harness.switch.default_outcome = centres
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    await harness.until(lambda: caller.rang)
    return caller


async def test_without_music_the_caller_hears_ringing_until_bridged(
    harness: Harness, logged: LogLines
) -> None:
    caller = await _on_hold_without_music(harness, Outcome(kind="answer", press="1"))
    # The ringing stops once the caller talks to the centre.
    await harness.until(lambda: bool(caller.bridged_with) and not caller.ringing)

    assert not caller.moh
    hold, bridged = f"entered holding bridge {caller.channel_id}-hold", "entered mixing bridge"
    assert _first(caller, hold) < _first(caller, "ringing") < _first(caller, bridged)
    assert _first(caller, bridged) < _first(caller, "ringing stopped")
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
    caller = await _on_hold_without_music(harness, Outcome(kind="ring"))
    await harness.until(
        lambda: any(r.originator == caller.channel_id for r in harness.switch.records.values())
    )
    call = harness.live(caller.channel_id)
    requests = len(harness.fake.requests)

    harness.switch.hangup_caller(caller.channel_id)
    record = await harness.ended(caller.channel_id)
    await harness.until(harness.nothing_left)

    assert record["outcome"] == "caller_hangup"
    assert not caller.ringing and not call.pending_timers
    refused = [r for r in harness.fake.requests[requests:] if r.status >= 400]
    assert refused == [], "nothing is cleaned up twice or on a channel that is gone"
    assert harness.metric("ivr311_calls_abandoned_total", {"stage": "ringing"}) == 1


async def test_the_ringing_stops_before_the_final_message(harness: Harness) -> None:
    caller = await _on_hold_without_music(harness, Outcome(kind="busy"))
    await harness.until(lambda: caller.destroyed)

    assert "transfer-failed" in harness.heard(caller.channel_id)
    message = _first(caller, "play sound:ivr311/transfer-failed")
    assert _first(caller, "ringing") < _first(caller, "ringing stopped") < message
    assert not caller.ringing
    assert harness.metric("ivr311_fallbacks_total", {"kind": "final_message"}) == 1
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == 1


async def test_the_ringing_stops_before_the_caller_is_handed_back(harness: Harness) -> None:
    """Asterisk's ringing tone would follow the caller into the dialplan: it is stopped first."""
    caller = await _on_hold_without_music(harness, Outcome(kind="ring"))
    drain = asyncio.create_task(harness.controller.drain(timeout_s=0))
    await harness.until(lambda: caller.continued_to is not None)
    await harness.wait(drain)

    assert caller.continued_to == FALLBACK
    assert _first(caller, "ringing stopped") < _first(caller, "continued to")
    assert not caller.ringing
    assert harness.metric("ivr311_calls_handed_back_total", {"reason": "drain"}) == 1


async def test_with_music_on_hold_the_caller_hears_no_ringing(harness: Harness) -> None:
    harness.switch.default_outcome = Outcome(kind="answer", press="1")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert caller.moh and not caller.rang
    assert harness.metric(HOLD_MUSIC_FAILURES, {"fallback": "ringing"}) == 0
