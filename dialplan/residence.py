"""Where the controller-free fallback sends a caller: the municipality the rules route the
caller's exchange to, or the host's agents, with the reason the dialplan notes
(``IVR311_REASON``).

Every choice is :mod:`routing_rules.policy`'s, taken as for a caller who never presses a key:
the fallback has no menus.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing_rules import policy
from routing_rules.policy import ExchangeRule, UnknownCallerRule
from routing_rules.schema import RuleSet
from routing_rules.snapshot import RuleSnapshot


@dataclass(frozen=True, slots=True)
class Residence:
    """Where the fallback sends a caller: ``municipality_id`` is ``None`` for the host's own
    agents; ``reason`` is for people (``IVR311_REASON``)."""

    municipality_id: str | None
    reason: str
    known: str | None = None
    """The municipality the call tells without asking (``IVR311_KNOWN``), if any."""


def unknown_caller_residence(rules: RuleSet) -> Residence:
    """The route of a caller whose number places them nowhere in this rule set."""
    unknown = policy.unknown_caller(rules)
    if unknown.rule is UnknownCallerRule.ONLY_MEMBER:
        return Residence(
            unknown.municipality_id, "unknown caller: the only member", unknown.municipality_id
        )
    if unknown.rule is UnknownCallerRule.TOO_MANY_MEMBERS:
        return Residence(
            None,
            f"unknown caller: host agents - {len(unknown.members)} members exceed "
            f"max_menu_options {rules.overlap_policy.max_menu_options}",
        )
    if unknown.rule is UnknownCallerRule.MEMBER_MENU:
        chosen = policy.menu_default(rules, unknown.members)
        if chosen is not None:
            return Residence(chosen, "unknown caller: first member - menu default")
    return Residence(None, "unknown caller: host agents")


def exchange_residence(snap: RuleSnapshot, exchange_id: str) -> Residence | None:
    """The route of callers from the exchange, or ``None`` when it places them nowhere
    (they are unknown callers)."""
    exchange = snap.geo.exchanges.get(exchange_id)
    if exchange is None:
        return None
    residence = policy.exchange_residence(snap, exchange)
    if residence.rule is ExchangeRule.NONE:
        return None
    listing = " ".join(f"{s.id} {s.share:.0%}" for s in residence.shares)
    if residence.rule is ExchangeRule.DOMINANT:
        dominance = snap.rules.overlap_policy.dominance_share
        return Residence(
            residence.municipality_id,
            f"{listing} - dominance {dominance:.0%}",
            residence.municipality_id,
        )
    if residence.rule is ExchangeRule.ONLY:
        return Residence(
            residence.municipality_id,
            f"{listing} - only municipality of the rule set",
            residence.municipality_id,
        )
    chosen = policy.menu_default(snap.rules, policy.exchange_menu(snap.rules, residence))
    if chosen is not None:
        return Residence(chosen, f"{listing} - shared: largest share")
    return Residence(None, f"{listing} - shared: host agents")


def exchange_residences(snap: RuleSnapshot) -> dict[str, Residence]:
    found: dict[str, Residence] = {}
    for exchange_id in sorted(snap.geo.npa_nxx_by_exchange()):
        residence = exchange_residence(snap, exchange_id)
        if residence is not None:
            found[exchange_id] = residence
    return found
