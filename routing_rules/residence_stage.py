"""Where the caller lives: a delivered location (point index); else the calling number's
exchange, routed without asking when one municipality's share reaches the dominance threshold,
else a menu of the exchange's municipalities; else, for an unknown or withheld number, the
member menu (when the members fit ``max_menu_options``) or the host's agents.

The policy itself is :mod:`routing_rules.policy`'s; this stage applies it to one call and
traces the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from routing_rules import policy
from routing_rules.call_walk import CallWalk
from routing_rules.decision import Evidence, MenuOption, TraceStage
from routing_rules.policy import ExchangeRule, UnknownCallerRule


@dataclass(frozen=True, slots=True)
class Menu:
    """A menu of the municipalities the caller may live in."""

    menu_id: str
    options: tuple[MenuOption, ...]
    rule: str


@dataclass(frozen=True, slots=True)
class Residence:
    """Where the caller lives, or the menu that will ask them."""

    municipality_id: str | None
    menu: Menu | None


def residence(walk: CallWalk) -> Residence:
    """Where the caller lives, or the menu that asks them, traced."""
    located = _from_location(walk)
    if located is not None:
        walk.evidence = Evidence.LOCATION
        return Residence(located, None)
    rules = walk.rules
    overlap = rules.overlap_policy
    placement = walk.snap.geo.place_number(walk.ctx.calling)
    shown = f"{placement.npa_nxx[:3]}-{placement.npa_nxx[3:]}-xxxx" if placement.npa_nxx else ""
    exchange = placement.exchange
    if exchange is None:
        reason = placement.failure.value if placement.failure else "unplaced"
        evidence = f"calling number {shown or 'not usable'}: {reason}"
        if placement.detail:
            evidence += f" ({placement.detail})"
        return _unknown_caller(walk, evidence)
    walk.exchange = exchange
    placed = policy.exchange_residence(walk.snap, exchange)
    shares = placed.shares
    listing = ", ".join(f"{s.id} {s.share:.0%}" for s in shares) or "none in this rule set"
    evidence = f"calling number {shown} → exchange {exchange.name}: {listing}"
    if exchange.exchange not in rules.exchanges:
        evidence += " (an exchange this centre does not serve)"
    dominance = f"overlap_policy.dominance_share {overlap.dominance_share:.0%}"
    if placed.rule is ExchangeRule.NONE:
        return _unknown_caller(walk, evidence)
    if placed.rule is not ExchangeRule.MENU:
        rule = (
            dominance
            if placed.rule is ExchangeRule.DOMINANT
            else "only municipality of this rule set"
        )
        walk.evidence = Evidence.EXCHANGE
        walk.note(TraceStage.EXCHANGE, evidence, rule, shares[0].id)
        return Residence(shares[0].id, None)
    options = _options(walk, policy.exchange_menu(rules, placed))
    rule = f"{dominance} not reached"
    walk.note(TraceStage.EXCHANGE, evidence, rule, "menu")
    return Residence(None, Menu(f"exchange:{exchange.exchange}", options, rule))


def quiet_residence(walk: CallWalk) -> Residence:
    """Where the caller lives, or the menu that would ask them, worked out without leaving a
    trace: the routing stages note it when they get there."""
    kept = (len(walk.trace), walk.evidence, walk.exchange)
    found = residence(walk)
    del walk.trace[kept[0] :]
    walk.evidence, walk.exchange = kept[1], kept[2]
    return found


def known_municipality(walk: CallWalk) -> str | None:
    """Where the caller lives when the call tells without asking (a location, a dominant
    exchange)."""
    return quiet_residence(walk).municipality_id


def _options(walk: CallWalk, municipality_ids: Sequence[str]) -> tuple[MenuOption, ...]:
    return tuple(
        MenuOption(str(n), m, walk.snap.municipalities[m].name.get(walk.language.code))
        for n, m in enumerate(municipality_ids, start=1)
    )


def _from_location(walk: CallWalk) -> str | None:
    if walk.ctx.location is None:
        return None
    lat, lon = walk.ctx.location
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        walk.note(TraceStage.LOCATION, "location is not a valid latitude/longitude", "-", "ignored")
        return None
    evidence = f"location {lat:.4f},{lon:.4f}"
    found = walk.snap.geo.locate(lat, lon)
    if found is None:
        walk.note(TraceStage.LOCATION, evidence, "point index", "outside every municipality")
        return None
    if found not in walk.snap.municipalities:
        walk.note(
            TraceStage.LOCATION,
            f"{evidence} in {found}",
            "municipalities",
            "not in this rule set",
        )
        return None
    walk.note(TraceStage.LOCATION, evidence, "point index", found)
    return found


def _unknown_caller(walk: CallWalk, evidence: str) -> Residence:
    overlap = walk.rules.overlap_policy
    rule = f"overlap_policy.unknown_caller {overlap.unknown_caller}"
    unknown = policy.unknown_caller(walk.rules)
    if unknown.rule is UnknownCallerRule.MEMBER_MENU:
        walk.note(TraceStage.NUMBER, evidence, rule, "member menu")
        return Residence(None, Menu("members", _options(walk, unknown.members), rule))
    walk.evidence = Evidence.DEFAULT
    if unknown.rule is UnknownCallerRule.HOST_AGENTS:
        walk.note(TraceStage.NUMBER, evidence, rule, "host agents")
    elif unknown.rule is UnknownCallerRule.ONLY_MEMBER:
        walk.note(TraceStage.NUMBER, evidence, rule, f"{unknown.municipality_id} (the only member)")
    else:
        why = (
            f"{len(unknown.members)} members exceed the "
            f"{overlap.max_menu_options}-option menu limit"
            if unknown.rule is UnknownCallerRule.TOO_MANY_MEMBERS
            else "no member municipality"
        )
        walk.note(
            TraceStage.NUMBER,
            evidence,
            f"{rule}, overlap_policy.max_menu_options {overlap.max_menu_options}",
            f"host agents: {why}",
        )
    return Residence(unknown.municipality_id, None)
