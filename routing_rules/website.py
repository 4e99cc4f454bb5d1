"""Whose website a caller hears read out, at which point of the call.

A municipality that names the point in ``website_heard_at`` has its own website read out to
its residents; otherwise the host's is, when the host names the point. Each website is one
recorded prompt, ``website-<id>`` ("You can also find us online at pickering dot ca."), kept in
the recordings manifest like every other prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing_rules.decision import WebsitePoint
from routing_rules.schema import RuleSet


def website_prompt_id(owner_id: str) -> str:
    """The prompt that reads out the website of a municipality (or host) ``owner_id``."""
    return f"website-{owner_id}"


@dataclass(frozen=True, slots=True)
class WebsiteOwner:
    owner_id: str
    """The municipality (or host) whose website is read out."""
    rule: str
    """Where the rules ask for it (a path into the rule set, for the trace)."""

    @property
    def prompt_id(self) -> str:
        return website_prompt_id(self.owner_id)


def website_at(
    rules: RuleSet, municipality_id: str | None, point: WebsitePoint
) -> WebsiteOwner | None:
    """The website read out at ``point`` to a caller living in ``municipality_id`` (None:
    unknown), or None when nobody's is."""
    for i, mun in enumerate(rules.municipalities):
        if mun.id == municipality_id and point in mun.website_heard_at:
            return WebsiteOwner(mun.id, f"municipalities[{i}].website_heard_at")
    if point in rules.host.website_heard_at:
        return WebsiteOwner(rules.host.id, "host.website_heard_at")
    return None


def website_prompt_ids(rules: RuleSet) -> frozenset[str]:
    """Every website prompt a call under ``rules`` may play."""
    return frozenset(website_prompt_id(owner) for owner in rules.websites_heard())
