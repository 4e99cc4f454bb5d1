"""Which Open311 server answers a caller's status question, and how the offer is spoken.

The municipality the call already knows for the caller (from a location or a dominant
exchange) answers when it offers the check; otherwise the host does, when it offers one.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing_rules.prompts import digit_prompts
from routing_rules.schema import Open311, RuleSet

KEY_PROMPTS = {"*": "key-star", "#": "key-pound"}
"""Prompts naming the keys that are not digits."""


@dataclass(frozen=True, slots=True)
class StatusService:
    owner_id: str
    """The municipality (or host) whose server is asked."""
    rule: str
    """Where the rules set it up (a path into the rule set, for the trace)."""
    service: Open311


def status_service(rules: RuleSet, municipality_id: str | None) -> StatusService | None:
    """The status check offered to a caller living in ``municipality_id`` (None: unknown)."""
    for i, mun in enumerate(rules.municipalities):
        if mun.id == municipality_id and mun.open311 is not None:
            return StatusService(mun.id, f"municipalities[{i}].open311", mun.open311)
    if rules.host.open311 is not None:
        return StatusService(rules.host.id, "host.open311", rules.host.open311)
    return None


def key_prompts(key: str) -> tuple[str, ...]:
    """The prompt ids that name a telephone key."""
    return (KEY_PROMPTS[key],) if key in KEY_PROMPTS else digit_prompts(key)


def offer_prompts(key: str) -> tuple[str, ...]:
    """ "For the status of a service request, press <key>."""
    return ("status-offer", *key_prompts(key))
