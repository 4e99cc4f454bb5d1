"""The golden table: calls through the demo rule sets and where each one must end.

Times are local to the host (America/Toronto for durham, America/Halifax for cape-breton);
Tuesday 2026-11-24 10:00 unless a row says otherwise. Numbers use real NPA-NXX codes of the demo
CO-code file with a fictional line number.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from routing_rules.decision import OfferMenu, Transfer
from routing_rules.geoview import GeoLookup
from routing_rules.simulate import outcome, parse_at, parse_presses, simulate_call
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, snapshot_from_text

TUESDAY = "2026-11-24T10:00"


@dataclass(frozen=True)
class Call:
    name: str
    calling: str | None
    action: str
    municipality: str | None
    destination: str | None
    rules: str = "durham"
    at: str = TUESDAY
    press: str = ""
    greeting_key: str | None = None
    location: tuple[float, float] | None = None
    dialled: str = "311"
    variant: str = ""


PICKERING_POINT = (43.9107, -79.1427)
LAKE_ONTARIO = (43.60, -78.95)

GOLDEN: list[Call] = [
    # Inside: one municipality holds the exchange, no menu.
    Call("bowmanville e164", "+19056230123", "agent", "clarington", "durham-agents"),
    Call("bowmanville 10 digits", "9056230123", "agent", "clarington", "durham-agents"),
    Call("bowmanville dashed", "1-905-623-0123", "agent", "clarington", "durham-agents"),
    Call(
        "bowmanville sip uri",
        "sip:+19056230123@carrier;user=phone",
        "agent",
        "clarington",
        "durham-agents",
    ),
    Call("hampton", "9052630123", "agent", "clarington", "durham-agents"),
    Call("whitby dominant", "9052170123", "agent", "whitby", "durham-agents"),
    Call("port perry dominant", "9059820123", "agent", "scugog", "durham-agents"),
    Call(
        "dialled ten-digit number",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        dialled="+19055550100",
    ),
    Call(
        "dialled toll-free number",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        dialled="1-800-555-0100",
    ),
    # Shared exchanges: a menu, and what each choice gives.
    Call("ajax-pickering asks", "9052310123", "menu", None, None),
    Call(
        "ajax-pickering picks pickering",
        "9052310123",
        "transfer",
        "pickering",
        "pickering-ccc",
        press="2",
    ),
    Call("ajax-pickering picks ajax", "9052310123", "agent", "ajax", "durham-agents", press="1"),
    Call("blackstock asks", "9059860123", "menu", None, None),
    Call(
        "blackstock picks kawartha lakes",
        "9059860123",
        "transfer",
        "kawartha-lakes",
        "kawartha-lakes-cc",
        press="2",
    ),
    Call("blackstock picks scugog", "9059860123", "agent", "scugog", "durham-agents", press="1"),
    Call(
        "south pickering picks toronto",
        "9052500123",
        "transfer",
        "toronto",
        "toronto-311",
        press="2",
    ),
    Call(
        "menu: invalid then pickering",
        "9052310123",
        "transfer",
        "pickering",
        "pickering-ccc",
        press="7,2",
    ),
    Call(
        "menu: timeout then pickering",
        "9052310123",
        "transfer",
        "pickering",
        "pickering-ccc",
        press="t,2",
    ),
    Call("menu: one invalid key re-prompts", "9052310123", "menu", None, None, press="7"),
    Call(
        "menu: three invalid keys, default",
        "9052310123",
        "agent",
        None,
        "durham-agents",
        press="7,8,9",
    ),
    Call(
        "menu: three timeouts, default", "9059860123", "agent", None, "durham-agents", press="t,t,t"
    ),
    Call("menu: 0 is a live agent", "9059860123", "agent", None, "durham-agents", press="0"),
    # The greeting: 0 is a live agent, whatever the number.
    Call(
        "greeting 0, inside number",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        greeting_key="0",
    ),
    Call(
        "greeting 0, shared number", "9052310123", "agent", None, "durham-agents", greeting_key="0"
    ),
    Call("greeting 0, withheld", "anonymous", "agent", None, "durham-agents", greeting_key="0"),
    Call(
        "greeting other key skips",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        greeting_key="5",
    ),
    # Unknown and withheld numbers, never an error: Durham's eight members do not fit its
    # 4-option menu limit, so the host's agents answer; with room for them, the member menu.
    Call("withheld anonymous", "anonymous", "agent", None, "durham-agents"),
    Call("withheld Restricted", "Restricted", "agent", None, "durham-agents"),
    Call("withheld empty", "", "agent", None, "durham-agents"),
    Call("withheld none", None, "agent", None, "durham-agents"),
    Call("letters", "CALLER", "agent", None, "durham-agents"),
    Call("thirty digits", "1" * 30, "agent", None, "durham-agents"),
    Call("unknown NPA-NXX", "9055550123", "agent", None, "durham-agents"),
    Call("code not in service", "3655170123", "agent", None, "durham-agents"),
    Call(
        "withheld: keys are not a menu choice",
        "anonymous",
        "agent",
        None,
        "durham-agents",
        press="1",
    ),
    Call("withheld, members fit: menu", "anonymous", "menu", None, None, variant="members-fit"),
    Call(
        "withheld, members fit: picks pickering",
        "anonymous",
        "transfer",
        "pickering",
        "pickering-ccc",
        press="1",
        variant="members-fit",
    ),
    Call(
        "withheld, members fit: picks clarington",
        "anonymous",
        "agent",
        "clarington",
        "durham-agents",
        press="5",
        variant="members-fit",
    ),
    # Location delivered with the call wins over the number.
    Call(
        "location in pickering",
        "9056230123",
        "transfer",
        "pickering",
        "pickering-ccc",
        location=PICKERING_POINT,
    ),
    Call(
        "location in the lake: number decides",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        location=LAKE_ONTARIO,
    ),
    Call(
        "location, withheld number",
        "anonymous",
        "transfer",
        "pickering",
        "pickering-ccc",
        location=PICKERING_POINT,
    ),
    # Exchanges this centre does not serve still reach the right centre.
    Call("toronto exchange", "4162000123", "transfer", "toronto", "toronto-311"),
    # After hours, holidays, exceptions.
    Call("saturday", "9056230123", "transfer", None, "durham-after-hours", at="2026-11-28T11:00"),
    Call(
        "christmas day", "9056230123", "transfer", None, "durham-after-hours", at="2026-12-25T10:00"
    ),
    Call(
        "christmas eve evening",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-12-24T18:00",
    ),
    Call(
        "christmas eve early closing (exception)",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-12-24T13:00",
    ),
    Call(
        "christmas eve morning",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        at="2026-12-24T10:00",
    ),
    Call(
        "boxing day observed",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-12-28T10:00",
    ),
    Call(
        "named extra closure",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-12-31T10:00",
    ),
    Call(
        "remembrance day is not an ontario holiday",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        at="2026-11-11T10:00",
    ),
    Call(
        "greeting 0 after hours",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-11-28T11:00",
        greeting_key="0",
    ),
    Call(
        "before opening",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        at="2026-11-24T08:29",
    ),
    Call("at closing", "9056230123", "transfer", None, "durham-after-hours", at="2026-11-24T16:30"),
    # A neighbour's centre keeps its own hours: Kawartha Lakes opens at 9:00.
    Call(
        "kawartha lakes not yet open: number to call",
        "9059860123",
        "message",
        "kawartha-lakes",
        None,
        at="2026-11-24T08:45",
        press="2",
    ),
    # Arrangements and their effective dates.
    Call(
        "pickering agreement, last day",
        "9052310123",
        "transfer",
        "pickering",
        "pickering-ccc",
        at="2027-01-15T10:00",
        press="2",
    ),
    Call(
        "pickering agreement ended",
        "9052310123",
        "agent",
        "pickering",
        "durham-agents",
        at="2027-01-18T10:00",
        press="2",
    ),
    Call(
        "port hope before its agreement",
        "9057860123",
        "agent",
        "port-hope",
        "durham-agents",
        press="2",
    ),
    Call(
        "port hope agreement in effect",
        "9057860123",
        "transfer",
        "port-hope",
        "port-hope-cc",
        at="2027-01-05T10:00",
        press="2",
    ),
    # Emergency override (variants of the durham file).
    Call(
        "override closes the centre",
        "9056230123",
        "transfer",
        None,
        "durham-after-hours",
        variant="override",
    ),
    Call(
        "override with its own destination",
        "9056230123",
        "transfer",
        None,
        "toronto-311",
        variant="override-to-toronto",
    ),
    Call(
        "override expired",
        "9056230123",
        "agent",
        "clarington",
        "durham-agents",
        variant="override-expired",
    ),
    # Fallback: Pickering closed for a day, its transfer goes straight to the next link.
    Call(
        "pickering closed: next link",
        "9052310123",
        "transfer",
        "pickering",
        "durham-agents",
        variant="pickering-closed",
        press="2",
    ),
    # Cape Breton.
    Call("sydney", "9022020123", "agent", "cbrm", "cbrm-agents", rules="cape-breton"),
    Call("glace bay", "9022760123", "agent", "cbrm", "cbrm-agents", rules="cape-breton"),
    Call("boularderie asks", "9022690123", "menu", None, None, rules="cape-breton"),
    Call(
        "boularderie picks victoria",
        "9022690123",
        "transfer",
        "victoria-county",
        "victoria-county-office",
        rules="cape-breton",
        press="1",
    ),
    Call(
        "gabarus: no choice, largest share",
        "9028840123",
        "agent",
        "cbrm",
        "cbrm-agents",
        rules="cape-breton",
        press="t,t,t",
    ),
    Call(
        "gabarus picks richmond",
        "9028840123",
        "transfer",
        "richmond-county",
        "richmond-county-office",
        rules="cape-breton",
        press="2",
    ),
    Call(
        "baddeck (not served)",
        "9022940123",
        "transfer",
        "victoria-county",
        "victoria-county-office",
        rules="cape-breton",
    ),
    Call(
        "cbrm withheld: host agents", "anonymous", "agent", None, "cbrm-agents", rules="cape-breton"
    ),
    Call(
        "cbrm greeting 0",
        "9022690123",
        "agent",
        None,
        "cbrm-agents",
        rules="cape-breton",
        greeting_key="0",
    ),
    Call(
        "cbrm saturday",
        "9022020123",
        "transfer",
        None,
        "cbrm-after-hours",
        rules="cape-breton",
        at="2026-11-28T11:00",
    ),
    Call(
        "cbrm christmas",
        "9022020123",
        "transfer",
        None,
        "cbrm-after-hours",
        rules="cape-breton",
        at="2026-12-25T10:00",
    ),
    Call(
        "cbrm remembrance day",
        "9022020123",
        "transfer",
        None,
        "cbrm-after-hours",
        rules="cape-breton",
        at="2026-11-11T10:00",
    ),
    Call(
        "cbrm location in eskasoni",
        "anonymous",
        "transfer",
        "eskasoni",
        "eskasoni-band-office",
        rules="cape-breton",
        location=(45.9531, -60.6241),
    ),
]

VARIANTS: dict[str, tuple[str, str]] = {
    "members-fit": ("  max_menu_options: 4\n", "  max_menu_options: 8\n"),
    "override": (
        '    emergency_override:\n      active: false\n      reason: ""',
        "    emergency_override:\n      active: true\n      reason: ice storm",
    ),
    "override-to-toronto": (
        '    emergency_override:\n      active: false\n      reason: ""',
        "    emergency_override:\n      active: true\n      reason: evacuation\n"
        "      destination: toronto-311",
    ),
    "override-expired": (
        '    emergency_override:\n      active: false\n      reason: ""',
        "    emergency_override:\n      active: true\n      reason: ice storm\n"
        "      expires: 2026-11-24T09:00:00",
    ),
    "pickering-closed": (
        "  ontario-business-hours:\n    timezone: America/Toronto\n",
        "  ontario-business-hours:\n    timezone: America/Toronto\n"
        "    extra_closures:\n      - {date: 2026-11-24, name: Pickering staff day}\n",
    ),
}


@pytest.fixture(scope="module")
def snapshots(geo: GeoLookup) -> dict[tuple[str, str], RuleSnapshot]:
    out: dict[tuple[str, str], RuleSnapshot] = {}
    for name in ("durham", "cape-breton"):
        text = (DEMO_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        out[(name, "")] = snapshot_from_text(text, geo, source=name)
    base = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    for variant, (old, new) in VARIANTS.items():
        assert old in base, variant
        out[("durham", variant)] = snapshot_from_text(base.replace(old, new), geo, source=variant)
    return out


def test_golden_table_is_large_enough() -> None:
    assert len(GOLDEN) >= 40
    assert len({c.name for c in GOLDEN}) == len(GOLDEN)


@pytest.mark.parametrize("call", GOLDEN, ids=[c.name for c in GOLDEN])
def test_golden(call: Call, snapshots: dict[tuple[str, str], RuleSnapshot]) -> None:
    snapshot = snapshots[(call.rules, call.variant)]
    sim = simulate_call(
        snapshot,
        calling=call.calling,
        at=parse_at(call.at, snapshot),
        dialled=call.dialled,
        location=call.location,
        greeting_key=call.greeting_key,
        presses=parse_presses([call.press] if call.press else []),
    )
    got = outcome(sim.decision)
    trace = "\n".join(
        f"{t.stage}: {t.evidence} → {t.result} [{t.rule}]" for t in sim.decision.trace
    )
    assert (got["action"], got["municipality"], got["destination"]) == (
        call.action,
        call.municipality,
        call.destination,
    ), trace


def test_ajax_pickering_menu_offers_ajax_then_pickering(durham: RuleSnapshot) -> None:
    sim = simulate_call(durham, calling="9052310123", at=parse_at(TUESDAY, durham))
    step = sim.decision.step
    assert isinstance(step, OfferMenu)
    assert [(o.digit, o.municipality_id) for o in step.options] == [
        ("1", "ajax"),
        ("2", "pickering"),
    ]
    ids = [p.id for p in step.prompts]
    assert ids[:1] == ["menu-intro"]
    assert ids[-1] == "menu-agent"
    assert "name-pickering" in ids


def test_blackstock_menu_includes_kawartha_lakes(durham: RuleSnapshot) -> None:
    sim = simulate_call(durham, calling="9059860123", at=parse_at(TUESDAY, durham))
    step = sim.decision.step
    assert isinstance(step, OfferMenu)
    assert "kawartha-lakes" in [o.municipality_id for o in step.options]


def test_warm_transfer_to_pickering_whispers_and_falls_back(durham: RuleSnapshot) -> None:
    sim = simulate_call(durham, calling="9052310123", at=parse_at(TUESDAY, durham), presses=("2",))
    step = sim.decision.step
    assert isinstance(step, Transfer)
    assert [t.destination_id for t in step.chain] == ["pickering-ccc", "durham-agents"]
    first = step.chain[0]
    assert first.dial == "+19055550110"
    assert first.accept_key == "1"
    assert "the caller lives in Pickering" in first.whisper_text
    assert "Ajax-Pickering" in first.whisper_text
    assert [p.id for p in first.whisper][:2] == ["whisper-intro", "host-durham"]
    assert first.caller_id == "+19052310123"
    final = [p.id for p in step.final_message]
    assert final[0] == "transfer-failed" and final[-2:] == ["website-durham", "goodbye"]
    assert "".join(i.removeprefix("digit-") for i in final[1:-2]) == "9055550110"


def test_french_caller_hears_french_prompts(durham: RuleSnapshot) -> None:
    sim = simulate_call(
        durham, calling="9059860123", at=parse_at(TUESDAY, durham), greeting_key="9"
    )
    step = sim.decision.step
    assert isinstance(step, OfferMenu)
    assert {p.language for p in step.prompts} == {"fr_CA"}


def test_greeting_offers_french_and_agent(durham: RuleSnapshot) -> None:
    sim = simulate_call(durham, calling="9056230123", at=parse_at(TUESDAY, durham))
    greeting = sim.greeting.step
    assert [(p.id, p.language) for p in greeting.prompts] == [  # type: ignore[union-attr]
        ("host-durham", "en"),
        ("greeting", "en"),
        ("language-offer", "fr_CA"),
        ("status-offer", "en"),
        ("key-star", "en"),
    ]
    assert greeting.language_keys == {"9": "fr"}  # type: ignore[union-attr]
    assert greeting.status_key == "*"  # type: ignore[union-attr]


def test_trace_names_evidence_and_rules(durham: RuleSnapshot) -> None:
    sim = simulate_call(durham, calling="9052310123", at=parse_at(TUESDAY, durham), presses=("2",))
    stages = [t.stage for t in sim.decision.trace]
    assert stages.index("host-hours") < stages.index("exchange") < stages.index("route")
    exchange = next(t for t in sim.decision.trace if t.stage == "exchange")
    assert "905-231-xxxx" in exchange.evidence
    assert "0123" not in " ".join(t.evidence for t in sim.decision.trace)
    route = next(t for t in sim.decision.trace if t.stage == "route")
    assert route.rule == "arrangements[0]"
