"""The metrics and the decision record are fed by a call's transitions (`ivr.call.observers`).

Each test walks a call through transitions as its flow would (`Call.enter`, `Call.note`,
`Call.finish`), with real decisions of the Durham demo rules, and reads what an operator or a
report would: the metrics and the decision record.
"""

from __future__ import annotations

from typing import Any

import pytest
from ivr_testing import BUSINESS_HOURS, fallback_choice, inside_number, menu_number

from ivr.ari import AriClient
from ivr.call import Call, CallEnvironment, CallSettings, CallState, IllegalTransition, Transition
from ivr.call.record import TransferAttempt
from ivr.call.states import (
    CALLER_HANGUP,
    MESSAGE_PLAYED,
    Ending,
    KeyPress,
    Link,
)
from ivr.metrics import Metrics
from routing_rules.decision import CallContext, Decision, OfferMenu, Transfer
from routing_rules.engine import decide
from routing_rules.snapshot import RuleSnapshot

S = CallState


def _environment(**overrides: Any) -> CallEnvironment:
    values: dict[str, Any] = {
        "ari": AriClient("http://127.0.0.1:1", "user", "password", "ivr311"),  # never called
        "metrics": Metrics(),
        "settings": CallSettings(),
        "decide": decide,
        "register_leg": lambda _leg, _call: None,
        "on_end": lambda _call: None,
        "clock": lambda: BUSINESS_HOURS,
    }
    values.update(overrides)
    return CallEnvironment(**values)


def _call(snapshot: RuleSnapshot, env: CallEnvironment, calling: str) -> Call:
    return Call(call_id="c1", dialled="311", calling=calling, snapshot=snapshot, env=env)


def _decision(call: Call, *digits: str, greeting_done: bool = True) -> Decision:
    context = CallContext(
        dialled="311",
        calling=call.calling,
        at=BUSINESS_HOURS,
        greeting_done=greeting_done,
        digits=digits,
    )
    return decide(call.snapshot, context)


def _metric(env: CallEnvironment, name: str, **labels: str) -> float:
    return env.metrics.registry.get_sample_value(name, labels) or 0.0


def _link(step: Transfer, index: int) -> Link:
    return Link(step.kind, index, step.chain[index])


async def test_a_transfer_decision_counts_the_route_and_the_record_keeps_it(
    durham: RuleSnapshot,
) -> None:
    env = _environment()
    call = _call(durham, env, inside_number(durham))
    decision = _decision(call)
    assert isinstance(decision.step, Transfer)
    call.enter(S.TRANSFER_HOLD, "answered", decision=decision)

    target = decision.step.chain[0].destination_id
    assert _metric(env, "ivr311_route_decisions_total", evidence="exchange", target=target) == 1
    assert (call.record.evidence, call.record.destination) == ("exchange", target)
    assert call.record.kind == "agent"


async def test_each_attempt_counts_when_the_transition_after_it_comes(
    durham: RuleSnapshot,
) -> None:
    env = _environment()
    number = menu_number(durham)
    call = _call(durham, env, number)
    digit, step = fallback_choice(durham, number)
    first, second = _link(step, 0), _link(step, 1)
    call.answered_at = call.started_at
    call.enter(S.TRANSFER_HOLD, "menu answer", decision=_decision(call, digit))
    call.enter(S.TRANSFER_RINGING, "dialling", link=first)
    call.note(TransferAttempt(first.target.destination_id, "busy", 0.5))
    busy = {"target": first.target.destination_id, "result": "busy"}
    assert _metric(env, "ivr311_transfers_total", **busy) == 0, "not before the next transition"

    call.enter(S.TRANSFER_RINGING, "dialling", link=second)
    assert _metric(env, "ivr311_transfers_total", **busy) == 1
    assert _metric(env, "ivr311_fallbacks_total", kind="next_link") == 1
    call.enter(S.TRANSFER_WHISPER, "answered", link=second)
    assert _metric(env, "ivr311_answer_to_person_seconds_count", kind=step.kind) == 1
    call.enter(S.TRANSFER_AWAITING_ACCEPT, "whisper played", link=second)
    call.note(TransferAttempt(second.target.destination_id, "answered", 1.0))
    call.enter(S.BRIDGED, "connected", link=second)
    await call.finish(CALLER_HANGUP)

    record = call.record
    assert [(a.destination, a.result) for a in record.attempts] == [
        (first.target.destination_id, "busy"),
        (second.target.destination_id, "answered"),
    ]
    assert record.destination == second.target.destination_id
    assert record.outcome == "completed", "a bridged call is completed, whoever hangs up"
    assert {"answer_to_person_s", "bridged_s", "total_s"} <= set(record.durations)
    assert _metric(env, "ivr311_calls_ended_total", outcome="completed") == 1
    assert _metric(env, "ivr311_calls_abandoned_total", stage="bridged") == 0


async def test_the_final_message_after_failed_links_names_no_destination(
    durham: RuleSnapshot,
) -> None:
    env = _environment()
    call = _call(durham, env, inside_number(durham))
    decision = _decision(call)
    assert isinstance(decision.step, Transfer)
    link = _link(decision.step, 0)
    call.enter(S.TRANSFER_HOLD, "answered", decision=decision)
    call.enter(S.TRANSFER_RINGING, "dialling", link=link)
    call.note(TransferAttempt(link.target.destination_id, "no_answer", 25.0))
    call.enter(S.MESSAGE, "no link of the chain connected")
    await call.finish(MESSAGE_PLAYED)

    assert call.record.destination is None
    assert call.record.outcome == "message"
    assert _metric(env, "ivr311_fallbacks_total", kind="final_message") == 1
    assert _metric(env, "ivr311_calls_abandoned_total", stage="message") == 0


async def test_keys_count_with_the_transition_that_leaves_the_greeting_or_menu(
    durham: RuleSnapshot,
) -> None:
    env = _environment()
    call = _call(durham, env, menu_number(durham))
    call.enter(S.GREETING, "answered", decision=_decision(call, greeting_done=False))
    menu = _decision(call)
    assert isinstance(menu.step, OfferMenu)
    call.language = "fr"
    call.note(KeyPress("greeting", "9", "language"))
    call.enter(S.MENU, "language key 9: fr", decision=menu)
    assert _metric(env, "ivr311_greeting_skipped_total") == 1
    assert _metric(env, "ivr311_language_switches_total", language="fr") == 1
    assert call.record.language == "fr"

    call.note(KeyPress("menu", "0", "agent"))
    call.enter(S.TRANSFER_HOLD, "menu answer 0", decision=_decision(call, "0"))
    assert _metric(env, "ivr311_menu_outcomes_total", outcome="agent") == 1
    assert _metric(env, "ivr311_zero_outs_total", where="menu") == 1
    assert _metric(env, "ivr311_zero_outs_total", where="greeting") == 0


async def test_a_caller_who_hangs_up_in_a_menu_is_abandoned_there(durham: RuleSnapshot) -> None:
    env = _environment()
    call = _call(durham, env, menu_number(durham))
    call.enter(S.MENU, "answered", decision=_decision(call))
    await call.finish(CALLER_HANGUP)

    assert _metric(env, "ivr311_menu_outcomes_total", outcome="hangup") == 1
    assert _metric(env, "ivr311_calls_abandoned_total", stage="menu") == 1
    assert _metric(env, "ivr311_calls_ended_total", outcome="caller_hangup") == 1
    assert call.record.outcome == "caller_hangup"


async def test_a_hand_back_counts_once_by_its_reason(durham: RuleSnapshot) -> None:
    env = _environment()
    call = _call(durham, env, inside_number(durham))
    await call.finish(Ending.handed_back("drain"))

    assert _metric(env, "ivr311_calls_handed_back_total", reason="drain") == 1
    assert _metric(env, "ivr311_calls_ended_total", outcome="handed_back") == 1
    assert call.record.outcome == "handed_back:drain"
    await call.finish(Ending.handed_back("drain"))
    assert _metric(env, "ivr311_calls_handed_back_total", reason="drain") == 1


async def test_observers_see_each_transition_in_order_and_an_illegal_one_not_at_all(
    durham: RuleSnapshot,
) -> None:
    seen: list[tuple[str, CallState, CallState]] = []

    def first(t: Transition) -> None:
        seen.append(("first", t.source, t.target))

    def second(t: Transition) -> None:
        seen.append(("second", t.source, t.target))

    call = _call(durham, _environment(observers=(first, second)), inside_number(durham))
    call.enter(S.GREETING, "answered")
    with pytest.raises(IllegalTransition, match="no transition from greeting to bridged"):
        call.enter(S.BRIDGED, "a bug")

    assert call.state is S.GREETING
    assert seen == [("first", S.ANSWERING, S.GREETING), ("second", S.ANSWERING, S.GREETING)]
