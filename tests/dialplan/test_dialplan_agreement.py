"""The controller-free fallback routes every caller as the controller does.

A caller who makes no choice (the fallback has no menus) is followed through the rendered
fallback dialplan (``fallback_walk``) and through the decision engine, as the AGI asks it, for
every CO code of the demo geodata, with each demo rule set, while the host is open and while it
is closed. Both must try the same destinations, with the same dial strings, ring timeouts and
caller id, and play the same prompts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dialplan_testing import RENDERED_AT, snapshot_of
from fallback_walk import Priority, read_dialplan, walk_fallback

from dialplan.names import FALLBACK_CONTEXT
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from geo.index import GeoIndex
from ivr.agi.script import AgiCall, decide_for_agi
from routing_rules.decision import PlayMessage, Transfer
from routing_rules.policy import dial_string
from routing_rules.snapshot import RuleSnapshot, default_geo, load_snapshot

ENDPOINT = DialplanOptions().dial_endpoint


@dataclass(frozen=True)
class Route:
    """Where one call went: ``(destination, Dial() argument, caller id)`` per link tried, the
    prompts heard, and the municipality it was routed as."""

    dialled: tuple[tuple[str, str, str], ...]
    played: tuple[str, ...]
    municipality: str


# Local wall-clock times of each host, after the golden files' rendering instant: a weekday
# while open, the same weekday after Pickering's arrangement ends and Port Hope's begins, and a
# Saturday when the hosts are closed.
TIMES = {
    "open": datetime(2026, 11, 24, 10, 0),
    "open, other arrangements": datetime(2027, 2, 2, 10, 0),
    "closed": datetime(2026, 11, 28, 11, 0),
}


def all_co_codes() -> list[str]:
    geo = default_geo()
    assert isinstance(geo, GeoIndex)
    return sorted(geo.codes())


def host_time(snapshot: RuleSnapshot, wall_clock: datetime) -> datetime:
    rules = snapshot.rules
    return wall_clock.replace(tzinfo=ZoneInfo(rules.schedules[rules.host.schedule].timezone))


def engine_route(snapshot: RuleSnapshot, caller: str, at: datetime) -> Route:
    decision = decide_for_agi(snapshot, AgiCall("311", caller, at, "en"))
    step = decision.step
    if isinstance(step, PlayMessage):
        return Route((), tuple(p.id for p in step.prompts), "")
    assert isinstance(step, Transfer), step
    dialled = tuple(
        (
            t.destination_id,
            f"{dial_string(t.dial, ENDPOINT)},{math.ceil(t.ring_timeout_s)}",
            t.caller_id,
        )
        for t in step.chain
    )
    played = tuple(p.id for p in (*step.announce, *step.final_message))
    return Route(dialled, played, step.municipality_id or "")


def fallback_route(plan: dict[str, dict[str, list[Priority]]], caller: str, at: datetime) -> Route:
    call = walk_fallback(plan, context=FALLBACK_CONTEXT, dialled="311", caller_id=caller, at=at)
    assert call.hung_up, "every fallback call ends with a hang-up"
    dialled = tuple((d.destination, d.dial, d.caller_id) for d in call.dialled)
    return Route(dialled, tuple(call.played), call.variables.get("IVR311_MUNICIPALITY", ""))


def routes(
    engine_rules: RuleSnapshot, fallback_rules: RuleSnapshot, wall_clock: datetime
) -> dict[str, tuple[Route, Route]]:
    """CO code → (the engine's route, the fallback's route) of a caller from that code."""
    at = host_time(engine_rules, wall_clock)
    plan = read_dialplan(render_dialplan(fallback_rules, DialplanOptions(now=RENDERED_AT)))
    found = {}
    for code in all_co_codes():
        caller = f"+1{code}0123"
        found[code] = (engine_route(engine_rules, caller, at), fallback_route(plan, caller, at))
    return found


@pytest.mark.parametrize("when", sorted(TIMES))
@pytest.mark.parametrize("name", ["durham", "cape-breton"])
def test_the_fallback_sends_every_co_code_where_the_engine_does(name: str, when: str) -> None:
    snapshot = load_snapshot(name)
    found = routes(snapshot, snapshot, TIMES[when])
    disagreements = {code: pair for code, pair in found.items() if pair[0] != pair[1]}
    assert disagreements == {}
    assert len(found) == 2902, "every code of the CO-code file"
    first_links = Counter(engine.dialled[0][0] for engine, _ in found.values() if engine.dialled)
    if when == "closed":
        assert len(first_links) == 1, "after hours, every caller reaches the after-hours line"
    else:
        # Callers are spread over the host's agents and several municipal contact centres.
        assert len(first_links) >= 3, first_links
        assert sum(first_links.values()) == len(found), "while open, every call is transferred"


def test_a_fallback_that_drifted_from_the_engine_is_caught() -> None:
    """The fallback rendered from rules whose menu default differs: exactly the callers from
    shared exchanges (the ones who would get a menu) are routed elsewhere."""

    def largest_share(data: dict[str, Any]) -> None:
        data["overlap_policy"]["default_choice"] = "largest-share"

    engine_rules = load_snapshot("durham")
    drifted = snapshot_of("durham", largest_share)
    found = routes(engine_rules, drifted, TIMES["open"])
    disagreeing = {code for code, (engine, fallback) in found.items() if engine != fallback}

    geo, overlap = default_geo(), drifted.rules.overlap_policy
    shared = set()
    for code in found:
        exchange = geo.place_number(f"+1{code}0123").exchange
        if exchange is None:
            continue
        offered = [
            s
            for s in exchange.municipalities
            if s.share >= overlap.min_share and s.id in drifted.municipalities
        ]
        if len(offered) > 1 and offered[0].share < overlap.dominance_share:
            shared.add(code)
    assert disagreeing == shared
    assert len(shared) > 100
