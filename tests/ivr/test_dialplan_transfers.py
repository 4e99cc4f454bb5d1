"""Transfers the controller hands to the dialplan (``IVR311_TRANSFERS=dialplan``): the caller
goes through the same transfer, and the call's record, log and metrics read as those of a
transfer carried out over ARI, for a handful of messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from ivr_testing import (
    BUSINESS_HOURS,
    Harness,
    fallback_choice,
    fast_settings,
    inside_number,
    menu_number,
    running_harness,
)
from virtual_clock import VirtualClock

from dialplan.names import STATE_VARIABLE
from dialplan.transfer_plan import OUTCOME_VARIABLE, TRANSFER_CONTEXT, PlanLink, TransferPlan
from ivr.call import CallState, SavedCall
from ivr.call.handover import chain_of, plan_of
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.snapshot import RuleSnapshot
from switchsim import Outcome
from switchsim.simulation import simulated_settings


@pytest.fixture
async def harness(durham: RuleSnapshot) -> AsyncIterator[Harness]:
    async with running_harness(durham, settings=fast_settings(transfers="dialplan")) as h:
        yield h


def handed_over(harness: Harness, call_id: str) -> bool:
    record = harness.record(call_id)
    return record.continued_to is not None and record.continued_to[0] == TRANSFER_CONTEXT


async def to_the_menu_choice(harness: Harness, outcome: Outcome) -> tuple[str, str, str]:
    """A caller who picks the municipality whose chain has two links, the first answering
    with ``outcome``: (call id, first destination id, second destination id)."""
    number = menu_number(harness.snapshot)
    digit, transfer = fallback_choice(harness.snapshot, number)
    harness.switch.script_endpoint(transfer.chain[0].dial, outcome)
    call_id = harness.call(number)
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, digit)
    return call_id, transfer.chain[0].destination_id, transfer.chain[1].destination_id


async def test_the_dialplan_transfers_the_caller_and_the_call_is_recorded_as_over_ari(
    harness: Harness,
) -> None:
    call_id = await harness.inside_caller_past_greeting()
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.bridged_with) == 1)

    assert handed_over(harness, call_id)
    assert "transferring" in harness.heard(call_id)
    leg = harness.record(caller.bridged_with[0])
    assert leg.endpoint == "PJSIP/+19055550101@contact-centres"
    whisper = harness.heard(leg.channel_id)
    assert whisper[0] == "whisper-intro" and whisper[-1] == "whisper-accept"
    assert harness.requests_for(call_id, "variable") == 1, "the plan rides on the one state write"
    assert not any("/originate" in r.path or "/bridges" in r.path for r in harness.fake.requests)
    live = harness.live(call_id).summary()
    assert live["state"] == "transferring.hold", "followed until the end"
    assert live["carried_by"] == "dialplan"

    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "completed"
    assert record["destination"] == "durham-agents"
    assert [a["result"] for a in record["attempts"]] == ["answered"]
    assert record["durations"]["answer_to_person_s"] >= 0
    assert record["durations"]["bridged_s"] >= 0
    assert (
        harness.metric("ivr311_transfers_total", {"target": "durham-agents", "result": "answered"})
        == 1
    )
    assert harness.metric("ivr311_answer_to_person_seconds_count", {"kind": "agent"}) == 1
    assert harness.metric("ivr311_calls_ended_total", {"outcome": "completed"}) == 1
    assert harness.metric("ivr311_active_calls") == 0


@pytest.mark.parametrize(
    ("outcome", "result"),
    [
        (Outcome(kind="busy", after_s=0.05), "busy"),
        (Outcome(kind="no_answer", after_s=0.05), "no_answer"),
        (Outcome(kind="rejected", after_s=0.05), "rejected"),
        (Outcome(kind="answer", press="9"), "not_accepted"),
    ],
)
async def test_a_failed_link_moves_on_to_the_next(
    harness: Harness, outcome: Outcome, result: str
) -> None:
    call_id, first, second = await to_the_menu_choice(harness, outcome)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        (first, result),
        (second, "answered"),
    ]
    assert record["destination"] == second
    assert harness.metric("ivr311_transfers_total", {"target": first, "result": result}) == 1
    assert harness.metric("ivr311_fallbacks_total", {"kind": "next_link"}) == 1


async def test_every_link_failing_ends_in_the_message(harness: Harness) -> None:
    harness.switch.default_outcome = Outcome(kind="busy", after_s=0.02)
    call_id = await harness.inside_caller_past_greeting()
    caller = harness.record(call_id)
    await harness.until(lambda: caller.destroyed)
    heard = harness.heard(call_id)
    assert "transfer-failed" in heard and heard[-1] == "goodbye"
    record = await harness.ended(call_id)
    assert record["outcome"] == "message"
    assert record["destination"] is None
    assert [a["result"] for a in record["attempts"]] == ["busy"]
    assert harness.metric("ivr311_fallbacks_total", {"kind": "final_message"}) == 1


async def test_a_caller_who_hangs_up_while_it_rings_is_counted_abandoned_there(
    harness: Harness,
) -> None:
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = await harness.inside_caller_past_greeting()
    await harness.until(lambda: bool(harness.switch.outbound_records("+19055550101")))
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    await harness.until(harness.nothing_left)
    assert record["outcome"] == "caller_hangup"
    assert record["abandoned_in"] == "ringing"
    assert [a["result"] for a in record["attempts"]] == ["caller_hangup"]
    assert harness.metric("ivr311_calls_abandoned_total", {"stage": "ringing"}) == 1


async def test_the_caller_s_saved_state_carries_the_plan_the_dialplan_reads(
    harness: Harness,
) -> None:
    call_id = await harness.inside_caller_past_greeting()
    await harness.until(lambda: handed_over(harness, call_id))
    saved = SavedCall.decode(harness.switch.channels[call_id].variables[STATE_VARIABLE])
    assert saved is not None and saved.state is CallState.TRANSFER_HOLD
    assert saved.plan is not None
    assert saved.plan.links[0].dial.startswith("PJSIP/+19055550101@contact-centres,")
    assert saved.plan.links[0].accept_key == "1"


async def test_an_unconfirmed_state_write_keeps_the_transfer_in_the_application(
    harness: Harness,
) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    for _attempt in range(2):  # the client tries a write twice
        harness.fake.lose_next_answer("POST", f"/ari/channels/{call_id}/variable")
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.bridged_with) == 1)
    assert not handed_over(harness, call_id)
    assert harness.record(caller.bridged_with[0]).app_args[0] == "transfer", "originated"
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"


def next_controller(harness: Harness) -> Controller:
    """The controller started after the harness's one is closed."""
    return Controller(
        simulated_settings(fast_settings(transfers="dialplan"), harness.fake),
        RulesSource.fixed(harness.snapshot, Metrics()),
        clock=lambda: BUSINESS_HOURS,
        scheduler=VirtualClock(),
    )


async def test_a_restarted_controller_records_the_transfer_the_dialplan_carried_on(
    harness: Harness,
) -> None:
    call_id = await harness.inside_caller_past_greeting()
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.bridged_with) == 1)
    await harness.controller.close()
    assert not caller.destroyed, "the conversation goes on without a controller"
    before = len(harness.fake.requests)
    async with next_controller(harness) as second:
        await asyncio.wait_for(second.reconciled.wait(), 10)
        assert call_id in second.calls, "followed by the new controller"
        harness.switch.hangup_caller(call_id)
        await asyncio.wait_for(second.calls[call_id].ended.wait(), 10)
        record = next(d for d in second.recent_decisions() if d["call_id"] == call_id)
    asked = [r.path for r in harness.fake.requests[before:] if r.method == "POST"]
    assert not any(p.endswith(("/subscription", "/continue")) for p in asked), (
        "the caller is left where it is, followed on the earlier subscription"
    )
    assert record["outcome"] == "completed"
    assert [a["result"] for a in record["attempts"]] == ["answered"]
    assert not any(
        r.method == "POST" and r.path.endswith("/originate") for r in harness.fake.requests
    )


async def test_a_caller_saved_with_its_plan_but_still_in_the_application_is_handed_over(
    harness: Harness,
) -> None:
    """The earlier controller died between saving the plan and the caller leaving the
    application: the next one subscribes to the caller, continues it to the transfer context
    and records the transfer."""
    number = menu_number(harness.snapshot)
    digit, transfer = fallback_choice(harness.snapshot, number)
    call_id = harness.call(number)
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    plan = plan_of(transfer, harness.live(call_id).settings)
    assert plan is not None
    await harness.controller.persistor.settled()
    await harness.controller.close()
    variables = harness.switch.channels[call_id].variables
    in_menu = SavedCall.decode(variables[STATE_VARIABLE])
    assert in_menu is not None and in_menu.state is CallState.MENU
    variables[STATE_VARIABLE] = replace(
        in_menu, state=CallState.TRANSFER_HOLD, digits=(*in_menu.digits, digit), plan=plan
    ).encode()
    caller = harness.record(call_id)
    async with next_controller(harness) as second:
        await asyncio.wait_for(second.reconciled.wait(), 10)
        await harness.until(lambda: len(caller.bridged_with) == 1)
        assert handed_over(harness, call_id)
        harness.switch.hangup_caller(call_id)
        await asyncio.wait_for(second.calls[call_id].ended.wait(), 10)
        record = next(d for d in second.recent_decisions() if d["call_id"] == call_id)
    assert record["outcome"] == "completed"
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        (transfer.chain[0].destination_id, "answered")
    ]


async def test_a_refused_subscription_keeps_the_transfer_in_the_application_and_says_so(
    harness: Harness,
) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    for _attempt in range(2):  # a subscription is tried twice
        harness.fake.lose_next_answer("POST", "/ari/applications/ivr311/subscription")
    harness.switch.press(call_id, "1")
    caller = harness.record(call_id)
    await harness.until(lambda: len(caller.bridged_with) == 1)
    assert not handed_over(harness, call_id)
    await harness.controller.persistor.settled()
    saved = SavedCall.decode(harness.switch.channels[call_id].variables[STATE_VARIABLE])
    assert saved is not None and saved.plan is None, "a restart must not hand the caller over"
    assert saved.state is CallState.TRANSFER_RINGING


async def test_what_the_dialplan_noted_after_the_caller_hung_up_is_not_taken(
    harness: Harness,
) -> None:
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = await harness.inside_caller_past_greeting()
    await harness.until(lambda: bool(harness.switch.outbound_records("+19055550101")))
    # The leg's whisper subroutine runs to its end once the caller is gone: its answer and
    # accept key come after the caller's hang-up.
    later = time.time() + 5
    variables = harness.switch.channels[call_id].variables
    variables[OUTCOME_VARIABLE] += f" a:0:{later:.3f} k:0:{later + 1:.3f}"
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "caller_hangup"
    assert record["abandoned_in"] == "ringing"
    assert [a["result"] for a in record["attempts"]] == ["caller_hangup"]
    assert "answer_to_person_s" not in record["durations"]


def test_a_taken_over_transfer_is_told_down_the_chain_its_plan_dialled() -> None:
    plan = TransferPlan(
        "",
        (
            PlanLink("PJSIP/+19055550110@contact-centres,20,gmU(ivr311-whisper)", "", "1", "a"),
            PlanLink("PJSIP/+19055550101@contact-centres,25,gmU(ivr311-whisper)", "", "", "b"),
            PlanLink("PJSIP/+19055550102@contact-centres,soon", "", "", "c"),
        ),
        "",
        15.0,
        "municipality",
    )
    told = chain_of(plan, None)
    assert [t.destination_id for t in told] == ["a", "b", "c"]
    assert told[1].dial == "PJSIP/+19055550101@contact-centres" and told[1].ring_timeout_s == 25
    assert (told[2].dial, told[2].ring_timeout_s) == ("", 0), "unreadable: its destination alone"
    assert told[0].accept_key == "1" and told[1].accept_key is None
