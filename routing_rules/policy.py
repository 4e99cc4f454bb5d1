"""The routing policy: where a rule set sends a caller, as pure functions of the rules.

The decision engine applies it to one call at a time; the dialplan renderer applies it to every
exchange and municipality at once, to write the fallback that routes calls while no controller
runs; the AGI takes the engine's decision and dials it with :func:`dial_string`. Written once,
here, the controller and its fallback cannot drift apart (``tests/dialplan/
test_dialplan_agreement.py`` follows every CO code through both).

Each answer names the rule that gave it (an enum), so the engine can trace it and the renderer
can note it in the dialplan, each in its own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from geo.model import ExchangeOverlap, MunicipalityShare
from routing_rules.prompts import digit_prompts
from routing_rules.schema import (
    HOST_AGENTS,
    MESSAGE_LINK,
    Arrangement,
    Destination,
    EmergencyOverride,
    RuleSet,
)
from routing_rules.snapshot import RuleSnapshot

# -- where the caller lives -------------------------------------------------------------------


class ExchangeRule(StrEnum):
    """How the callers of one exchange are placed."""

    DOMINANT = "dominant"
    """One municipality's share reaches ``overlap_policy.dominance_share``: routed there."""
    ONLY = "only"
    """The exchange holds one municipality of the rule set: routed there."""
    MENU = "menu"
    """Several municipalities of the rule set: the caller is asked."""
    NONE = "none"
    """No municipality of the rule set: the caller is an unknown caller."""


@dataclass(frozen=True, slots=True)
class ExchangeResidence:
    """Where an exchange's callers live, as far as the rule set can tell."""

    rule: ExchangeRule
    shares: tuple[MunicipalityShare, ...]
    """The rule set's municipalities with at least ``overlap_policy.min_share`` of the
    exchange, largest share first."""

    @property
    def municipality_id(self) -> str | None:
        """The municipality callers are routed to without being asked, if any."""
        if self.rule in (ExchangeRule.DOMINANT, ExchangeRule.ONLY):
            return self.shares[0].id
        return None


def exchange_residence(snapshot: RuleSnapshot, exchange: ExchangeOverlap) -> ExchangeResidence:
    """How the rule set places callers from ``exchange``."""
    policy = snapshot.rules.overlap_policy
    shares = tuple(
        s
        for s in exchange.municipalities
        if s.share >= policy.min_share and s.id in snapshot.municipalities
    )
    if not shares:
        return ExchangeResidence(ExchangeRule.NONE, shares)
    if shares[0].share >= policy.dominance_share:
        return ExchangeResidence(ExchangeRule.DOMINANT, shares)
    if len(shares) == 1:
        return ExchangeResidence(ExchangeRule.ONLY, shares)
    return ExchangeResidence(ExchangeRule.MENU, shares)


def exchange_menu(rules: RuleSet, residence: ExchangeResidence) -> tuple[str, ...]:
    """The municipalities a shared exchange's menu offers, in order (largest share first)."""
    return tuple(s.id for s in residence.shares[: rules.overlap_policy.max_menu_options])


class UnknownCallerRule(StrEnum):
    """What a caller whose number places them nowhere gets."""

    HOST_AGENTS = "host-agents"
    """``overlap_policy.unknown_caller`` sends them to the host's agents."""
    ONLY_MEMBER = "only-member"
    """The rule set has one member municipality: routed there."""
    NO_MEMBER = "no-member"
    """The member menu would be empty: the host's agents."""
    TOO_MANY_MEMBERS = "too-many-members"
    """The members exceed ``max_menu_options``: the host's agents, who serve every member
    (offering only some members would leave the others' residents without their choice)."""
    MEMBER_MENU = "member-menu"
    """The caller is asked which member municipality they live in."""


@dataclass(frozen=True, slots=True)
class UnknownCaller:
    rule: UnknownCallerRule
    members: tuple[str, ...]
    """The member municipalities, in rule-set order (the member menu's options)."""

    @property
    def municipality_id(self) -> str | None:
        """The municipality the caller is routed to without being asked, if any."""
        return self.members[0] if self.rule is UnknownCallerRule.ONLY_MEMBER else None


def unknown_caller(rules: RuleSet) -> UnknownCaller:
    """How the rule set treats a caller whose number (or its exchange) places them nowhere."""
    policy = rules.overlap_policy
    members = tuple(m.id for m in rules.municipalities if m.role == "member")
    if policy.unknown_caller == "host-agents":
        return UnknownCaller(UnknownCallerRule.HOST_AGENTS, members)
    if len(members) == 1:
        return UnknownCaller(UnknownCallerRule.ONLY_MEMBER, members)
    if not members:
        return UnknownCaller(UnknownCallerRule.NO_MEMBER, members)
    if len(members) > policy.max_menu_options:
        return UnknownCaller(UnknownCallerRule.TOO_MANY_MEMBERS, members)
    return UnknownCaller(UnknownCallerRule.MEMBER_MENU, members)


def menu_default(rules: RuleSet, options: Sequence[str]) -> str | None:
    """The municipality a caller who makes no choice at a menu of ``options`` is routed to;
    ``None`` is the host's agents (``overlap_policy.default_choice``)."""
    if rules.overlap_policy.default_choice == "largest-share":
        return options[0]
    return None


# -- a municipality's route ---------------------------------------------------------------------


class RouteRule(StrEnum):
    """Why a municipality's calls go where they go."""

    ARRANGEMENT = "arrangement"
    """An arrangement of the municipality is in effect on the day."""
    NO_ARRANGEMENT_IN_EFFECT = "no-arrangement-in-effect"
    """The municipality has arrangements, none in effect on the day: the host's agents."""
    OWN_DESTINATION = "own-destination"
    """No arrangement: the municipality's first destination (its own contact centre)."""
    HOST = "host"
    """No arrangement and no destination of its own: the host's agents serve it."""


@dataclass(frozen=True, slots=True)
class Route:
    rule: RouteRule
    route: str
    """A destination id, or ``host-agents``; :func:`route_destination` resolves it."""
    arrangement: Arrangement | None = None
    arrangement_index: int | None = None
    """Its position in ``arrangements`` (the rule path ``arrangements[i]``)."""


def arrangements_of(rules: RuleSet, municipality_id: str) -> tuple[tuple[int, Arrangement], ...]:
    """The municipality's arrangements with their positions; the first in effect wins."""
    return tuple(
        (i, a) for i, a in enumerate(rules.arrangements) if a.municipality == municipality_id
    )


def standing_route(rules: RuleSet, municipality_id: str) -> Route:
    """The municipality's route on a day none of its arrangements is in effect."""
    if arrangements_of(rules, municipality_id):
        return Route(RouteRule.NO_ARRANGEMENT_IN_EFFECT, HOST_AGENTS)
    municipality = next(m for m in rules.municipalities if m.id == municipality_id)
    if municipality.destinations:
        return Route(RouteRule.OWN_DESTINATION, municipality.destinations[0].id)
    return Route(RouteRule.HOST, HOST_AGENTS)


def municipality_route(rules: RuleSet, municipality_id: str, day: date) -> Route:
    """The municipality's route on ``day`` (host time): an arrangement in effect, else
    :func:`standing_route`."""
    for i, arrangement in arrangements_of(rules, municipality_id):
        if arrangement.in_effect(day):
            return Route(RouteRule.ARRANGEMENT, arrangement.route, arrangement, i)
    return standing_route(rules, municipality_id)


def route_destination(rules: RuleSet, route: str) -> str:
    """The destination id of a route (``host-agents`` is the host's agents' destination)."""
    return rules.host.agents if route == HOST_AGENTS else route


# -- after hours --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AfterHoursRoute:
    message: tuple[str, ...]
    """Prompt ids played first."""
    destination: str | None
    """Where the call is then transferred; ``None``: the message, goodbye, and hang up."""


def after_hours_route(rules: RuleSet, override: EmergencyOverride | None) -> AfterHoursRoute:
    """What callers get while the host is closed: the after-hours message and destination, or,
    under an emergency override in force, the override's message and its destination."""
    after = rules.after_hours
    if override is None:
        return AfterHoursRoute(tuple(after.message), after.destination)
    return AfterHoursRoute(tuple(rules.prompts.override), override.destination or after.destination)


# -- the transfer ---------------------------------------------------------------------------------


def chain_links(first: Destination) -> tuple[str, ...]:
    """The destinations tried in order: ``first``, then its fallback links (the ``message``
    keyword left out: the final message always follows)."""
    return (first.id, *(link for link in first.fallback if link != MESSAGE_LINK))


def ring_timeout_s(rules: RuleSet, destination: Destination) -> float:
    return destination.ring_timeout_s or rules.transfer.ring_timeout_s


def callback_message(rules: RuleSet, first: Destination) -> tuple[str, ...]:
    """The prompt ids that name the number to call when every link of ``first``'s chain
    failed, digit by digit."""
    callback = rules.host.callback_number(first)
    national = callback[2:] if callback.startswith("+1") else callback
    return (*rules.prompts.transfer_failed, *digit_prompts(national))


def final_message(
    rules: RuleSet, first: Destination, website: Sequence[str] = ()
) -> tuple[str, ...]:
    """The prompt ids a caller hears when every link of ``first``'s chain failed: the number to
    call, the ``website`` prompt when one is read out there, and goodbye."""
    return (*callback_message(rules, first), *website, *rules.prompts.goodbye)


def fixed_caller_id(rules: RuleSet) -> str | None:
    """The caller id every transfer presents, or ``None`` when it is the caller's own number
    (``transfer.caller_id: caller``, or ``host`` without a ten-digit host number)."""
    setting = rules.transfer.caller_id
    if setting == "caller":
        return None
    if setting == "host":
        return rules.host.number_of_kind("ten-digit")
    return setting


def caller_id(rules: RuleSet, caller_e164: str | None) -> str:
    """The caller id a destination is shown; ``caller_e164`` is the caller's own number, when
    the call carries a usable one. A withheld caller is shown as the host's ten-digit number."""
    if rules.transfer.caller_id == "caller":
        return caller_e164 or rules.host.number_of_kind("ten-digit") or ""
    return fixed_caller_id(rules) or ""


def dial_string(dial: str, endpoint: str) -> str:
    """A destination's ``dial`` (E.164 or SIP URI) as a PJSIP dial string through ``endpoint``:
    ``PJSIP/+19055550101@contact-centres``, or ``PJSIP/contact-centres/sip:...``."""
    if dial.startswith(("sip:", "sips:")):
        return f"PJSIP/{endpoint}/{dial}"
    return f"PJSIP/{dial}@{endpoint}"
