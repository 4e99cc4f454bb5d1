"""The engine's part of the status check: who offers it, when it is asked for, what follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from rules_editing import with_own_open311

from routing_rules.decision import (
    CallContext,
    CheckStatus,
    OfferMenu,
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
    text = with_own_open311(durham_text, "whitby", "https://311.whitby.example/", key="8")
    snapshot = snapshot_from_text(text, geo, source="variant")
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


def with_servers(durham_text: str, geo: GeoLookup, *municipalities: str) -> RuleSnapshot:
    """The Durham rules where each of ``municipalities`` runs its own Open311 server (key *)."""
    text = durham_text
    for mun in municipalities:
        text = with_own_open311(text, mun, f"https://311.{mun}.example/")
    return snapshot_from_text(text, geo, source="variant")


def test_a_caller_on_a_shared_exchange_picks_the_server_from_a_menu(
    durham_text: str, geo: GeoLookup
) -> None:
    snapshot = with_servers(durham_text, geo, "pickering", "ajax")
    shared = context(snapshot, "ajax-pickering", greeting_done=True, digits=("*",))
    decision = decide(snapshot, shared)
    menu = decision.step
    assert isinstance(menu, OfferMenu) and menu.menu_id == "status"
    assert [(o.digit, o.municipality_id) for o in menu.options] == [
        ("1", "pickering"),
        ("2", "ajax"),
        ("3", "durham"),
    ]
    ids = [p.id for p in menu.prompts]
    assert ids[:4] == ["status-menu-for", "name-pickering", "menu-press", "digit-1"]
    assert "host-durham" in ids and ids[-1] == "menu-agent"
    assert any("status menu: 1 Pickering, 2 Ajax" in t.evidence for t in decision.trace)
    chosen = decide(snapshot, replace(shared, digits=("*", "2")))
    asked = chosen.step
    assert isinstance(asked, CheckStatus) and asked.owner_id == "ajax"
    assert asked.service is not None
    assert str(asked.service.base_url) == "https://311.ajax.example/"
    assert any(t.evidence == "status menu: pressed 2" and t.result == "Ajax" for t in chosen.trace)
    # The caller whose municipality the exchange settles is not asked.
    whitby = decide(snapshot, context(snapshot, greeting_done=True, digits=("*",))).step
    assert isinstance(whitby, CheckStatus) and whitby.owner_id == "durham"


def test_no_choice_at_the_status_menu_is_said_and_leads_to_a_person(
    durham_text: str, geo: GeoLookup
) -> None:
    snapshot = with_servers(durham_text, geo, "pickering", "ajax")
    shared = context(snapshot, "ajax-pickering", greeting_done=True)
    for entry, words in (("", ["no-input"]), ("7", ["invalid"]), ("0", [])):
        step = decide(snapshot, replace(shared, digits=("*", entry))).step
        assert isinstance(step, CheckStatus) and step.service is None
        assert [p.id for p in step.unchosen] == words
        after = replace(shared, digits=("*", entry), status=StatusResult.NO_CHOICE)
        routed = decide(snapshot, after)
        # 0 reaches an agent; no choice goes on as a call that never asked (the menu).
        if entry == "0":
            assert isinstance(routed.step, Transfer) and routed.step.kind == "agent"
        else:
            assert isinstance(routed.step, OfferMenu) and routed.step.menu_id != "status"


def test_one_server_for_a_withheld_number_needs_no_menu(durham_text: str, geo: GeoLookup) -> None:
    withheld = replace(CallContext("311", None, TUESDAY_10), greeting_done=True, digits=("*",))
    asked = decide(snapshot_from_text(durham_text, geo, source="demo"), withheld).step
    assert isinstance(asked, CheckStatus) and asked.owner_id == "durham"
    many = with_servers(durham_text, geo, "pickering", "ajax")
    menu = decide(many, withheld).step
    assert isinstance(menu, OfferMenu) and menu.menu_id == "status"
    assert [o.municipality_id for o in menu.options] == ["pickering", "ajax", "durham"]


def test_a_caller_who_switches_language_hears_the_offer_in_it(durham: RuleSnapshot) -> None:
    step = decide(durham, context(durham)).step
    assert isinstance(step, PlayGreeting) and step.language_keys == {"9": "fr"}
    follow = step.language_follow_up["9"]
    assert [(p.id, p.language) for p in follow] == [
        ("status-offer", "fr_CA"),
        ("key-star", "fr_CA"),
    ]
