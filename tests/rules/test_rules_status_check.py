"""The engine's part of the status check: who offers it, when it is asked for, what follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from routing_rules.decision import (
    CallContext,
    CheckStatus,
    PlayGreeting,
    PlayMessage,
    StatusResult,
    TraceStage,
    Transfer,
)
from routing_rules.engine import decide
from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import RuleSnapshot, snapshot_from_text

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Toronto"))
WHITBY_OWN = (
    "    website: https://www.whitby.ca/\n",
    "    website: https://www.whitby.ca/\n"
    "    open311: {base_url: 'https://311.whitby.example/', key: '8'}\n",
)


def caller_in(snapshot: RuleSnapshot, exchange: str) -> str:
    return f"{snapshot.geo.npa_nxx_by_exchange()[exchange][0]}0123"


def context(snapshot: RuleSnapshot, exchange: str = "whitby", **facts: object) -> CallContext:
    ctx = CallContext("311", caller_in(snapshot, exchange), TUESDAY_10)
    return replace(ctx, **facts)  # type: ignore[arg-type]


def test_the_greeting_offers_the_hosts_status_check(durham: RuleSnapshot) -> None:
    step = decide(durham, context(durham)).step
    assert isinstance(step, PlayGreeting) and step.status_key == "*"
    assert [p.id for p in step.prompts][-2:] == ["status-offer", "key-star"]


def test_a_rule_set_without_open311_offers_nothing(cape_breton: RuleSnapshot) -> None:
    ctx = CallContext("311", None, TUESDAY_10)
    step = decide(cape_breton, ctx).step
    assert isinstance(step, PlayGreeting) and step.status_key is None
    assert "status-offer" not in [p.id for p in step.prompts]


def test_a_municipality_with_its_own_server_answers_its_residents(
    durham_text: str, geo: GeoLookup
) -> None:
    old, new = WHITBY_OWN
    snapshot = snapshot_from_text(durham_text.replace(old, new, 1), geo, source="variant")
    resident = decide(snapshot, context(snapshot)).step
    assert isinstance(resident, PlayGreeting) and resident.status_key == "8"
    asked = decide(snapshot, context(snapshot, greeting_done=True, digits=("8",))).step
    assert isinstance(asked, CheckStatus) and asked.owner_id == "whitby"
    assert str(asked.service.base_url) == "https://311.whitby.example/"
    # A caller the exchange does not place gets the host's server.
    shared = decide(snapshot, context(snapshot, "ajax-pickering")).step
    assert isinstance(shared, PlayGreeting) and shared.status_key == "*"


def test_the_key_asks_for_the_status_and_the_trace_says_so(durham: RuleSnapshot) -> None:
    decision = decide(durham, context(durham, greeting_done=True, digits=("*",)))
    step = decision.step
    assert isinstance(step, CheckStatus)
    assert step.owner_id == "durham" and step.prompt_language == "en"
    status = [t for t in decision.trace if t.stage is TraceStage.STATUS]
    assert status[0].rule == "host.open311.key"


def test_a_found_request_ends_the_call_unless_0_is_pressed(durham: RuleSnapshot) -> None:
    found = context(durham, greeting_done=True, status=StatusResult.FOUND)
    leaving = decide(durham, replace(found, digits=("*", ""))).step
    assert isinstance(leaving, PlayMessage) and leaving.prompts[-1].id == "goodbye"
    agent = decide(durham, replace(found, digits=("*", "0"))).step
    assert isinstance(agent, Transfer)


def test_any_failure_routes_the_caller_to_a_person(durham: RuleSnapshot) -> None:
    for result in StatusResult:
        if result is StatusResult.FOUND:
            continue
        ctx = context(durham, greeting_done=True, digits=("*", ""), status=result)
        decision = decide(durham, ctx)
        assert isinstance(decision.step, Transfer), result
        trace = next(t for t in decision.trace if t.stage is TraceStage.STATUS)
        assert str(result) in trace.evidence and trace.result == "route to a person"
