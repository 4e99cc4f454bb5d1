"""Whole calls through the controller, the real ARI client and the fake switch on loopback."""

from __future__ import annotations

from ivr_testing import Harness, fallback_choice, inside_number, menu_number

from switchsim import Outcome


async def test_greeting_heard_then_warm_transfer_with_whisper_and_accept(harness: Harness) -> None:
    number = inside_number(harness.snapshot)
    harness.switch.media_durations.clear()  # this caller listens to the whole greeting
    call_id = harness.call(number)
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.bridged_with) == 1)

    assert harness.requests_for(call_id, "answer") == 0, "the dialplan answered it already"
    assert caller.history.count("answered") == 1
    assert harness.heard(call_id)[:2] == ["host-durham", "greeting"]
    assert "transferring" in harness.heard(call_id)
    assert "moh on default" in caller.history, "the caller waits with music while dialling"
    leg = harness.record(caller.bridged_with[0])
    assert leg.app_args == ("transfer", call_id)
    assert leg.originator == call_id
    assert leg.endpoint == "PJSIP/+19055550101@contact-centres"
    whisper = harness.heard(leg.channel_id)
    assert whisper[0] == "whisper-intro" and whisper[-1] == "whisper-accept"
    assert leg.dtmf == "1"

    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "completed"
    assert record["evidence"] == "exchange"
    assert record["destination"] == "durham-agents"
    assert record["attempts"][0]["result"] == "answered"
    assert "total_s" in record["durations"] and "answer_to_person_s" in record["durations"]
    assert harness.metric("ivr311_calls_offered_total", {"dialled": "311"}) == 1
    assert (
        harness.metric("ivr311_transfers_total", {"target": "durham-agents", "result": "answered"})
        == 1
    )
    assert (
        harness.metric(
            "ivr311_route_decisions_total", {"evidence": "exchange", "target": "durham-agents"}
        )
        == 1
    )
    assert harness.metric("ivr311_answer_to_person_seconds_count", {"kind": "agent"}) == 1
    assert harness.metric("ivr311_active_calls") == 0


async def test_any_key_skips_the_greeting(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "5")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    greeting = next(p for p in caller.plays if "sound:ivr311/greeting" in p.media)
    assert greeting.state == "stopped"
    assert harness.metric("ivr311_greeting_skipped_total") == 1
    assert harness.metric("ivr311_zero_outs_total", {"where": "greeting"}) == 0


async def test_zero_during_the_greeting_reaches_an_agent(harness: Harness) -> None:
    number = menu_number(harness.snapshot)  # would get a menu without the 0
    call_id = harness.call(number)
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "0")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert "menu-intro" not in harness.heard(call_id)
    assert harness.record(caller.bridged_with[0]).endpoint.startswith("PJSIP/+19055550101@")
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["evidence"] == "caller_choice"
    assert record["digits"] == ["0"]
    assert harness.metric("ivr311_zero_outs_total", {"where": "greeting"}) == 1


async def test_language_key_switches_to_french(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "9")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    announce = next(p for p in caller.plays if "sound:ivr311/transferring" in p.media)
    assert announce.lang == "fr_CA"
    leg = harness.record(caller.bridged_with[0])
    assert "whisper-language-fr" in harness.heard(leg.channel_id)
    assert harness.metric("ivr311_language_switches_total", {"language": "fr"}) == 1


async def test_menu_timeout_then_invalid_then_default(harness: Harness) -> None:
    call_id = harness.call(menu_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    # First attempt: no key within the rules' menu_timeout_s (1 s in these rules) -> "no-input"
    # and the menu again; second attempt: an invalid key.
    assert await harness.expire(call_id, "menu") == 1.0
    await harness.until(lambda: "no-input" in harness.heard(call_id))
    harness.switch.press(call_id, "7")
    await harness.until(lambda: bool(caller.bridged_with))
    leg = harness.record(caller.bridged_with[0])
    assert leg.endpoint.startswith("PJSIP/+19055550101@"), "default_choice host-agents"
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["digits"] == ["", "7"]
    assert record["evidence"] == "default"
    assert harness.metric("ivr311_menu_outcomes_total", {"outcome": "timeout"}) == 1
    assert harness.metric("ivr311_menu_outcomes_total", {"outcome": "invalid"}) == 1


async def test_menu_choice_routes_to_the_chosen_municipality(harness: Harness) -> None:
    number = menu_number(harness.snapshot)
    digit, transfer = fallback_choice(harness.snapshot, number)
    call_id = harness.call(number)
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, digit)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert harness.record(caller.bridged_with[0]).endpoint.startswith(
        f"PJSIP/{transfer.chain[0].dial}@"
    )
    assert harness.metric("ivr311_menu_outcomes_total", {"outcome": "choice"}) == 1


async def _fallback_after(harness: Harness, outcome: Outcome, result: str) -> None:
    number = menu_number(harness.snapshot)
    digit, transfer = fallback_choice(harness.snapshot, number)
    first, second = transfer.chain[0], transfer.chain[1]
    harness.switch.script_endpoint(first.dial, outcome)
    call_id = harness.call(number)
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, digit)
    caller = harness.record(call_id)
    if result == "not_accepted":
        # The first centre answers and never presses the accept key: the controller waits
        # IVR311_ACCEPT_TIMEOUT_S (0.5 s in these settings) after the whisper.
        assert await harness.expire(call_id, "accept") == 0.5
    await harness.until(lambda: bool(caller.bridged_with))
    assert harness.record(caller.bridged_with[0]).endpoint.startswith(f"PJSIP/{second.dial}@")
    failed = harness.switch.outbound_records(first.dial)
    assert len(failed) == 1 and failed[0].destroyed
    assert failed[0].answered == (result == "not_accepted")
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert [a["result"] for a in record["attempts"]] == [result, "answered"]
    assert record["destination"] == second.destination_id
    assert (
        harness.metric("ivr311_transfers_total", {"target": first.destination_id, "result": result})
        == 1
    )
    assert harness.metric("ivr311_fallbacks_total", {"kind": "next_link"}) == 1


async def test_busy_centre_falls_back_to_the_next_link(harness: Harness) -> None:
    await _fallback_after(harness, Outcome(kind="busy", after_s=0.05), "busy")


async def test_centre_that_does_not_answer_falls_back(harness: Harness) -> None:
    await _fallback_after(harness, Outcome(kind="no_answer", after_s=0.05), "no_answer")


async def test_rejected_call_falls_back(harness: Harness) -> None:
    await _fallback_after(harness, Outcome(kind="rejected", after_s=0.05), "rejected")


async def test_centre_that_never_accepts_falls_back(harness: Harness) -> None:
    await _fallback_after(harness, Outcome(kind="answer"), "not_accepted")


async def test_every_link_fails_then_the_final_message_names_the_number(harness: Harness) -> None:
    harness.switch.default_outcome = Outcome(kind="busy", after_s=0.02)
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.destroyed)
    heard = harness.heard(call_id)
    assert heard[heard.index("transfer-failed") + 1].startswith("digit-")
    assert heard[-1] == "goodbye"
    assert caller.hung_up_by == "app"
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "message"
    assert harness.metric("ivr311_fallbacks_total", {"kind": "final_message"}) == 1


async def test_after_hours_goes_to_the_after_hours_line(harness: Harness) -> None:
    harness.clock[0] = harness.clock[0].replace(hour=22)
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert "after-hours" in harness.heard(call_id)
    assert harness.record(caller.bridged_with[0]).endpoint.startswith("PJSIP/+19055550102@")
    assert harness.metric("ivr311_after_hours_calls_total") == 1


def _point_in(harness: Harness, municipality: str) -> tuple[float, float]:
    for i in range(60):
        for j in range(60):
            lat, lon = 43.80 + i * 0.01, -79.20 + j * 0.01
            if harness.snapshot.geo.locate(lat, lon) == municipality:
                return lat, lon
    raise LookupError(municipality)


async def test_location_delivered_with_the_call_decides_the_route(harness: Harness) -> None:
    where = _point_in(harness, "pickering")
    call_id = harness.call("anonymous", location=where)
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert harness.record(caller.bridged_with[0]).endpoint.startswith("PJSIP/+19055550110@")
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["evidence"] == "location"
    assert not any(c.isdigit() for c in record["caller"])


async def test_destination_hanging_up_ends_the_call_for_the_caller(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(caller.bridged_with[0])  # the agent hangs up
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert caller.hung_up_by == "app"
    assert record["outcome"] == "completed"


async def test_an_attempt_records_its_ringing_not_the_whisper_after_it(harness: Harness) -> None:
    """``ring_s`` is how long the centre rang; the whisper and the accept key come after it."""
    whisper_s = 1.0
    harness.switch.media_durations["sound:ivr311/whisper-intro"] = whisper_s
    harness.switch.script_endpoint("+19055550101", Outcome(after_s=0.0, press="1"))
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert "whisper-intro" in harness.heard(caller.bridged_with[0])
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    [attempt] = record["attempts"]
    assert attempt["destination"] == "durham-agents" and attempt["result"] == "answered"
    assert 0 <= attempt["ring_s"] < whisper_s


def before_the_first_prompt(history: list[str]) -> list[str]:
    """What happened to a channel before anything played to it."""
    plays = [n for n, line in enumerate(history) if line.startswith("play ")]
    return history[: plays[0]] if plays else history


async def test_a_caller_the_dialplan_answered_hears_the_greeting_with_nothing_before_it(
    harness: Harness,
) -> None:
    """The generated dialplan answers before Stasis: the controller neither answers again nor
    writes the call's state before the greeting plays; the state is saved from the transfer
    on, for a restarted controller."""
    call_id = harness.call(inside_number(harness.snapshot))
    caller = harness.record(call_id)
    await harness.in_greeting(call_id)
    assert harness.requests_for(call_id, "answer") == 0
    assert harness.requests_for(call_id, "variable") == 0
    assert before_the_first_prompt(caller.history) == ["arrived dialled=311", "answered"]
    harness.switch.press(call_id, "1")
    await harness.until(lambda: bool(caller.bridged_with))
    assert harness.requests_for(call_id, "answer") == 0
    assert "set IVR311_STATE" in caller.history
    assert caller.history.count("answered") == 1


async def test_a_caller_arriving_unanswered_is_answered_before_the_greeting(
    harness: Harness,
) -> None:
    """A dialplan that enters Stasis without answering (another site's, or an older render):
    the controller answers, once, before anything plays."""
    call_id = harness.call(inside_number(harness.snapshot), answered=False)
    caller = harness.record(call_id)
    await harness.in_greeting(call_id)
    assert harness.requests_for(call_id, "answer") == 1
    assert before_the_first_prompt(caller.history) == ["arrived dialled=311", "answered"]
    harness.switch.press(call_id, "1")
    await harness.until(lambda: bool(caller.bridged_with))
    assert caller.history.count("answered") == 1
    assert harness.requests_for(call_id, "answer") == 1
