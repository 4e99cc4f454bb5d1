"""Which Open311 servers may answer a caller's status question, and how the offer is spoken.

The municipality the call already knows for the caller (from a location or a dominant
exchange) answers when it offers the check; otherwise the host does, when it offers one. When
the call does not know where the caller lives (a shared exchange before the menu, a withheld
number), every municipality the caller may live in that offers the check is a candidate, and
the host too when it offers one: one candidate is asked at once, several make a menu.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routing_rules.prompts import digit_prompts, name_prompt_id
from routing_rules.schema import Names, Open311, RuleSet

KEY_PROMPTS = {"*": "key-star", "#": "key-pound"}
"""Prompts naming the keys that are not digits."""


@dataclass(frozen=True, slots=True)
class StatusService:
    owner_id: str
    """The municipality (or host) whose server is asked."""
    rule: str
    """Where the rules set it up (a path into the rule set, for the trace)."""
    service: Open311
    name: Names
    name_prompt: str
    """The prompt that names the owner in a menu."""


@dataclass(frozen=True, slots=True)
class StatusOffer:
    """The status check a caller is offered: the key that asks for it, and the servers that
    may answer (one: asked at once; several: the caller picks one from a menu)."""

    key: str
    services: tuple[StatusService, ...]
    why_menu: str = ""
    """Why the caller picks (the candidates' origin), for the trace; "" for one server."""


def status_offer(
    rules: RuleSet, municipality_id: str | None, possible: Sequence[str] | None = None
) -> StatusOffer | None:
    """The status check offered to a caller living in ``municipality_id``; None: unknown,
    and then ``possible`` are the municipalities the caller may live in (None: any of the rule
    set). A menu longer than ``overlap_policy.max_menu_options`` is not offered: the host's
    server answers alone then, when it offers one."""
    host = _host_service(rules)
    offering = _municipality_services(rules)
    if municipality_id is not None:
        own = [m for m in offering if m.owner_id == municipality_id]
        chosen = own[0] if own else host
        return StatusOffer(chosen.service.key, (chosen,)) if chosen is not None else None
    allowed = None if possible is None else set(possible)
    candidates = [m for m in offering if allowed is None or m.owner_id in allowed]
    if host is not None:
        if len(candidates) >= rules.overlap_policy.max_menu_options:
            candidates = []
        candidates.append(host)
    elif len(candidates) > rules.overlap_policy.max_menu_options:
        return None
    if not candidates:
        return None
    key = host.service.key if host is not None else candidates[0].service.key
    origin = "the caller may live in" if possible is not None else "of the rule set"
    why = f"the municipalities {origin} that offer the check" + (
        ", and the host" if host is not None else ""
    )
    return StatusOffer(key, tuple(candidates), why if len(candidates) > 1 else "")


def _host_service(rules: RuleSet) -> StatusService | None:
    host = rules.host
    if host.open311 is None:
        return None
    return StatusService(host.id, "host.open311", host.open311, host.name, host.prompt_id)


def _municipality_services(rules: RuleSet) -> list[StatusService]:
    return [
        StatusService(
            mun.id, f"municipalities[{i}].open311", mun.open311, mun.name, name_prompt_id(mun.id)
        )
        for i, mun in enumerate(rules.municipalities)
        if mun.open311 is not None
    ]


def key_prompts(key: str) -> tuple[str, ...]:
    """The prompt ids that name a telephone key."""
    return (KEY_PROMPTS[key],) if key in KEY_PROMPTS else digit_prompts(key)


def offer_prompts(key: str) -> tuple[str, ...]:
    """ "For the status of a service request, press <key>."""
    return ("status-offer", *key_prompts(key))
