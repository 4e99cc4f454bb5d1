"""Where the fallback sends a caller, decided once per exchange when the dialplan is rendered.

The fallback has no menus: it follows the decision engine's rules for a caller who does not
choose. An exchange dominated by one municipality (its share reaches the rule set's dominance
threshold) routes there; an exchange that would get a menu takes the menu's default choice; an
exchange with no municipality of the rule set takes the unknown-caller path, as does a calling
number that cannot be placed.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.model import ExchangeOverlap
from routing_rules.snapshot import RuleSnapshot


@dataclass(frozen=True, slots=True)
class Residence:
    """``municipality_id`` is ``None`` for the host's own agents; ``reason`` is for people."""

    municipality_id: str | None
    reason: str


def unknown_caller(snapshot: RuleSnapshot) -> Residence:
    """The route of a caller whose number places them nowhere in this rule set."""
    rules = snapshot.rules
    policy = rules.overlap_policy
    members = [m for m in rules.municipalities if m.role == "member"]
    if policy.unknown_caller == "member-menu" and members:
        if len(members) == 1:
            return Residence(members[0].id, "unknown caller: the only member")
        if len(members) > policy.max_menu_options:
            return Residence(
                None,
                f"unknown caller: host agents - {len(members)} members exceed "
                f"max_menu_options {policy.max_menu_options}",
            )
        if policy.default_choice == "largest-share":
            return Residence(members[0].id, "unknown caller: first member - menu default")
    return Residence(None, "unknown caller: host agents")


def exchange_residence(snapshot: RuleSnapshot, exchange: ExchangeOverlap) -> Residence | None:
    """The route of callers from ``exchange``, or ``None`` when it places them nowhere."""
    policy = snapshot.rules.overlap_policy
    shares = [
        s
        for s in exchange.municipalities
        if s.share >= policy.min_share and s.id in snapshot.municipalities
    ]
    if not shares:
        return None
    listing = " ".join(f"{s.id} {s.share:.0%}" for s in shares)
    if shares[0].share >= policy.dominance_share:
        return Residence(shares[0].id, f"{listing} - dominance {policy.dominance_share:.0%}")
    if len(shares) == 1:
        return Residence(shares[0].id, f"{listing} - only municipality of the rule set")
    if policy.default_choice == "largest-share":
        return Residence(shares[0].id, f"{listing} - shared: largest share")
    return Residence(None, f"{listing} - shared: host agents")
