"""Decision-engine behaviour beyond the golden table: messages, prompts, caller id, odd inputs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from routing_rules.decision import (
    CallContext,
    Evidence,
    OfferMenu,
    PlayGreeting,
    PlayMessage,
    TraceStage,
    Transfer,
)
from routing_rules.engine import decide
from routing_rules.geoview import GeoLookup
from routing_rules.simulate import simulate_call
from routing_rules.snapshot import RuleSnapshot, snapshot_from_text
from routing_rules.validation import validate_text

TORONTO = ZoneInfo("America/Toronto")
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=TORONTO)
SATURDAY_11 = datetime(2026, 11, 28, 11, 0, tzinfo=TORONTO)


def variant(text: str, geo: GeoLookup, *edits: tuple[str, str]) -> RuleSnapshot:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return snapshot_from_text(text, geo, source="variant")


def test_greeting_comes_first_even_after_hours(durham: RuleSnapshot) -> None:
    decision = decide(durham, CallContext("311", "9056230123", SATURDAY_11))
    assert isinstance(decision.step, PlayGreeting)
    assert decision.step.agent_key == "0"


def test_after_hours_without_destination_is_a_message(durham_text: str, geo: GeoLookup) -> None:
    snapshot = variant(
        durham_text, geo, ("  destination: durham-after-hours\n  message:", "  message:")
    )
    step = simulate_call(snapshot, calling="9056230123", at=SATURDAY_11).decision.step
    assert isinstance(step, PlayMessage) and step.then_hangup
    assert [p.id for p in step.prompts] == [
        "after-hours",
        "emergency-911",
        "website-clarington",
        "goodbye",
    ]


def test_override_announces_the_closure(durham_text: str, geo: GeoLookup) -> None:
    snapshot = variant(
        durham_text,
        geo,
        (
            '    emergency_override:\n      active: false\n      reason: ""',
            "    emergency_override:\n      active: true\n      reason: ice storm",
        ),
    )
    decision = simulate_call(snapshot, calling="9056230123", at=TUESDAY_10).decision
    step = decision.step
    assert isinstance(step, Transfer) and step.kind == "after_hours"
    assert [p.id for p in step.announce] == ["override", "emergency-911", "website-clarington"]
    assert any("ice storm" in t.evidence for t in decision.trace)


def test_after_hours_announces_emergencies_only(durham: RuleSnapshot) -> None:
    step = simulate_call(durham, calling="9056230123", at=SATURDAY_11).decision.step
    assert isinstance(step, Transfer)
    assert [p.id for p in step.announce] == ["after-hours", "emergency-911", "website-clarington"]
    assert [t.dial for t in step.chain] == ["+19055550102"]


def test_naive_time_is_read_as_host_time(durham: RuleSnapshot) -> None:
    naive = datetime(2026, 11, 24, 10, 0)
    decision = decide(durham, CallContext("311", "9056230123", naive, greeting_done=True))
    aware = decide(durham, CallContext("311", "9056230123", TUESDAY_10, greeting_done=True))
    assert decision.step == aware.step
    assert decision.trace[0].stage == "time"
    assert isinstance(decision.step, Transfer) and decision.step.kind == "agent"


def test_unknown_language_falls_back_to_the_default(durham: RuleSnapshot) -> None:
    ctx = CallContext("311", "9056230123", TUESDAY_10, language="de", greeting_done=True)
    decision = decide(durham, ctx)
    assert decision.trace[0].stage == "language"
    assert isinstance(decision.step, Transfer)
    assert {p.language for p in decision.step.announce} == {"en"}


def test_caller_id_presented(durham: RuleSnapshot, cape_breton: RuleSnapshot) -> None:
    step = simulate_call(durham, calling="9056230123", at=TUESDAY_10).decision.step
    assert isinstance(step, Transfer) and step.chain[0].caller_id == "+19056230123"
    withheld = simulate_call(durham, calling="anonymous", at=TUESDAY_10, presses=("5",))
    assert isinstance(withheld.decision.step, Transfer)
    assert withheld.decision.step.chain[0].caller_id == "+19055550100"
    halifax = ZoneInfo("America/Halifax")
    cbrm = simulate_call(
        cape_breton, calling="9022020123", at=datetime(2026, 11, 24, 10, tzinfo=halifax)
    ).decision.step
    assert isinstance(cbrm, Transfer) and cbrm.chain[0].caller_id == "+19025550100"
    assert cbrm.chain[0].ring_timeout_s == 25


def test_sip_destination_and_no_accept_key(durham_text: str, geo: GeoLookup) -> None:
    snapshot = variant(
        durham_text,
        geo,
        ('dial: "+19055550110"', 'dial: "sip:care@pickering.example.org"'),
        ("require_accept: true", "require_accept: false"),
    )
    step = simulate_call(
        snapshot, calling="9052310123", at=TUESDAY_10, presses=("2",)
    ).decision.step
    assert isinstance(step, Transfer)
    assert step.chain[0].dial == "sip:care@pickering.example.org"
    assert step.chain[0].accept_key is None
    assert "whisper-accept" not in [p.id for p in step.chain[0].whisper]
    digits = "".join(p.id.removeprefix("digit-") for p in step.final_message[1:-2])
    assert digits == "9055550100"  # no number to read for a SIP URI: the host's number


def test_menu_reprompt_says_why(durham: RuleSnapshot) -> None:
    invalid = simulate_call(durham, calling="9052310123", at=TUESDAY_10, presses=("7",))
    timeout = simulate_call(durham, calling="9052310123", at=TUESDAY_10, presses=("",))
    assert invalid.decision.step.prompts[0].id == "invalid"  # type: ignore[union-attr]
    assert timeout.decision.step.prompts[0].id == "no-input"  # type: ignore[union-attr]
    assert invalid.decision.step.attempt == 2  # type: ignore[union-attr]


def test_a_member_menu_longer_than_the_limit_is_not_offered(
    durham: RuleSnapshot, durham_text: str, geo: GeoLookup
) -> None:
    # Durham has eight members and offers menus of at most 4: a withheld caller goes to
    # Service Durham's agents (who serve every member), and the trace says why.
    sim = simulate_call(durham, calling="anonymous", at=TUESDAY_10)
    step = sim.decision.step
    assert isinstance(step, Transfer) and step.kind == "agent"
    assert [t.destination_id for t in step.chain] == ["durham-agents"]
    why = next(t for t in sim.decision.trace if t.stage == "number")
    assert "overlap_policy.max_menu_options 4" in why.rule
    assert why.result == "host agents: 8 members exceed the 4-option menu limit"

    roomy = variant(durham_text, geo, ("  max_menu_options: 4\n", "  max_menu_options: 8\n"))
    menu = simulate_call(roomy, calling="anonymous", at=TUESDAY_10).decision.step
    assert isinstance(menu, OfferMenu)
    assert [o.municipality_id for o in menu.options] == [
        m.id for m in roomy.rules.municipalities if m.role == "member"
    ]


def test_validation_says_when_the_member_menu_is_too_long(durham_text: str, geo: GeoLookup) -> None:
    warned = validate_text(durham_text, geo)
    assert warned.ok
    assert [str(w) for w in warned.warnings] == [
        "overlap_policy.unknown_caller: the member menu would offer 8 municipalities, more than "
        "max_menu_options (4): unknown and withheld callers go to the host's agents"
    ]
    roomy = durham_text.replace("  max_menu_options: 4\n", "  max_menu_options: 8\n")
    assert validate_text(roomy, geo).warnings == ()


PICKERING_POINT = (43.9107, -79.1427)


@pytest.mark.parametrize(
    ("calling", "presses", "greeting_key", "location", "evidence"),
    [
        ("9056230123", (), None, None, Evidence.EXCHANGE),  # Bowmanville: Clarington's
        ("9056230123", (), None, PICKERING_POINT, Evidence.LOCATION),
        ("9056230123", (), None, (float("nan"), 0.0), Evidence.EXCHANGE),  # unusable location
        ("9052310123", ("2",), None, None, Evidence.CALLER_CHOICE),  # the menu's Pickering
        ("9052310123", ("0",), None, None, Evidence.CALLER_CHOICE),  # the menu's live agent
        ("9056230123", (), "0", None, Evidence.CALLER_CHOICE),  # 0 during the greeting
        ("9052310123", ("", "", ""), None, None, Evidence.DEFAULT),  # no choice at the menu
        ("anonymous", (), None, None, Evidence.DEFAULT),  # unknown caller: the host's agents
        ("9052310123", (), None, None, None),  # a menu: nothing settled yet
    ],
)
def test_the_decision_states_the_evidence_that_settled_the_route(
    durham: RuleSnapshot,
    calling: str,
    presses: tuple[str, ...],
    greeting_key: str | None,
    location: tuple[float, float] | None,
    evidence: Evidence | None,
) -> None:
    sim = simulate_call(
        durham,
        calling=calling,
        at=TUESDAY_10,
        presses=presses,
        greeting_key=greeting_key,
        location=location,
    )
    assert isinstance(sim.decision.step, OfferMenu if evidence is None else Transfer)
    assert sim.decision.evidence == evidence
    assert not sim.decision.after_hours
    assert sim.greeting.evidence is None


def test_the_decision_states_when_the_after_hours_path_applies(
    durham: RuleSnapshot, durham_text: str, geo: GeoLookup
) -> None:
    closed = simulate_call(durham, calling="9056230123", at=SATURDAY_11).decision
    assert closed.after_hours and closed.evidence is Evidence.DEFAULT
    assert isinstance(closed.step, Transfer) and closed.step.kind == "after_hours"
    message_only = variant(
        durham_text, geo, ("  destination: durham-after-hours\n  message:", "  message:")
    )
    message = simulate_call(message_only, calling="9056230123", at=SATURDAY_11).decision
    assert message.after_hours and isinstance(message.step, PlayMessage)
    assert [t.stage for t in message.trace][-2:] == [TraceStage.AFTER_HOURS, TraceStage.WEBSITE]
    greeting = decide(durham, CallContext("311", "9056230123", SATURDAY_11))
    assert not greeting.after_hours, "the greeting comes before the host's hours are read"
