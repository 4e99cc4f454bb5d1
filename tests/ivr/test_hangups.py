"""A caller who hangs up in any state leaves nothing behind: no bridge, leg, playback or timer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ivr_testing import Harness, inside_number, menu_number

from ivr.call import Call
from switchsim import ChannelRecord, Outcome


def _playing(record: ChannelRecord, prompt: str) -> bool:
    return any(f"sound:ivr311/{prompt}" in p.media and p.state == "playing" for p in record.plays)


def _leg(harness: Harness, call_id: str) -> ChannelRecord | None:
    legs = [r for r in harness.switch.records.values() if r.originator == call_id]
    return legs[-1] if legs else None


def _ringing(harness: Harness, call_id: str) -> bool:
    leg = _leg(harness, call_id)
    return leg is not None and not leg.answered and not leg.destroyed


def _whisper(harness: Harness, call_id: str) -> bool:
    leg = _leg(harness, call_id)
    return leg is not None and _playing(leg, "whisper-intro")


def _awaiting_accept(harness: Harness, call_id: str) -> bool:
    leg = _leg(harness, call_id)
    return (
        leg is not None
        and leg.answered
        and bool(leg.plays)
        and all(p.state == "done" for p in leg.plays)
    )


def _bridged(harness: Harness, call_id: str) -> bool:
    return bool(harness.record(call_id).bridged_with)


Setup = Callable[[Harness], None]


def _every_link_busy(harness: Harness) -> None:
    harness.switch.default_outcome = Outcome(kind="busy")
    harness.switch.media_durations["sound:ivr311/transfer-failed"] = 60.0


STATES: dict[str, tuple[Setup, Callable[[Harness, str], bool], str]] = {
    "greeting": (lambda h: None, lambda h, c: _playing(h.record(c), "greeting"), "greeting"),
    "menu": (
        lambda h: h.switch.media_durations.update({"sound:ivr311/menu-intro": 60.0}),
        lambda h, c: _playing(h.record(c), "menu-intro"),
        "menu",
    ),
    "hold": (
        lambda h: h.switch.media_durations.update({"sound:ivr311/transferring": 60.0}),
        lambda h, c: _playing(h.record(c), "transferring"),
        "transferring.hold",
    ),
    "ringing": (
        lambda h: setattr(h.switch, "default_outcome", Outcome(kind="ring")),
        _ringing,
        "transferring.ringing",
    ),
    "whisper": (
        lambda h: h.switch.media_durations.update({"sound:ivr311/whisper-intro": 60.0}),
        _whisper,
        "transferring.whisper",
    ),
    "awaiting_accept": (
        lambda h: setattr(h.switch, "default_outcome", Outcome(kind="answer")),
        _awaiting_accept,
        "transferring.awaiting_accept",
    ),
    "bridged": (lambda h: None, _bridged, "bridged"),
    "message": (
        _every_link_busy,
        lambda h, c: _playing(h.record(c), "transfer-failed"),
        "message",
    ),
}


ABANDONED_IN: dict[str, str | None] = {
    "greeting": "greeting",
    "menu": "menu",
    "hold": "hold",
    "ringing": "ringing",
    "whisper": "whisper",
    "awaiting_accept": "awaiting_accept",
    "bridged": None,  # reached a person: a completed call
    "message": None,  # reached the final message
}
"""The ``stage`` a caller who hangs up in each state is counted as abandoned in."""


async def _hang_up_in(harness: Harness, state: str) -> tuple[Call, dict[str, Any]]:
    """Bring a call to ``state``, hang the caller up and wait until nothing is left; returns
    the call and its decision record."""
    setup, reached, _ = STATES[state]
    setup(harness)
    number = menu_number(harness.snapshot) if state == "menu" else inside_number(harness.snapshot)
    call_id = harness.call(number)
    if state != "greeting":
        await harness.skip_greeting(call_id)
    await harness.until(lambda: reached(harness, call_id))
    call = harness.controller.calls[call_id]

    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    return call, record


def _abandoned(harness: Harness) -> dict[str, float]:
    """``ivr311_calls_abandoned_total`` by stage."""
    return {
        sample.labels["stage"]: sample.value
        for family in harness.controller.metrics.registry.collect()
        if family.name == "ivr311_calls_abandoned"
        for sample in family.samples
        if sample.name == "ivr311_calls_abandoned_total"
    }


@pytest.mark.parametrize("state", list(STATES))
async def test_caller_hangs_up_and_everything_is_cleaned(harness: Harness, state: str) -> None:
    call, record = await _hang_up_in(harness, state)
    call_id, state_name = call.call_id, STATES[state][2]

    assert record["outcome"] in ("caller_hangup", "completed")
    assert not call.pending_timers, "every timer of the call is cancelled"
    legs = [r for r in harness.switch.records.values() if r.originator == call_id]
    assert all(leg.destroyed for leg in legs)
    assert all(
        p.state in ("done", "stopped", "hangup", "failed")
        for r in harness.switch.records.values()
        for p in r.plays
    )
    assert harness.metric("ivr311_active_calls") == 0
    assert not harness.controller.calls
    if state_name.startswith("transferring.") and state != "hold":
        assert record["attempts"][-1]["result"] == "caller_hangup"


@pytest.mark.parametrize("state", list(STATES))
async def test_a_caller_who_hangs_up_before_a_person_or_message_is_abandoned_once(
    harness: Harness, state: str
) -> None:
    """Greeting, menu, on hold, ringing...: one abandoned call in the stage it hung up in;
    a caller who reached a person (a completed call) or the final message is not counted."""
    await _hang_up_in(harness, state)
    stage = ABANDONED_IN[state]
    assert _abandoned(harness) == ({stage: 1.0} if stage is not None else {})


async def test_a_completed_call_is_not_abandoned(harness: Harness) -> None:
    """The destination ends the conversation: completed, not abandoned."""
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(lambda: _bridged(harness, call_id))
    harness.switch.hangup_caller(harness.record(call_id).bridged_with[0])
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"
    assert harness.metric("ivr311_calls_ended_total", {"outcome": "completed"}) == 1
    assert _abandoned(harness) == {}
