"""Every prompt a call can hear under one rule set, from the controller or the fallback."""

from __future__ import annotations

from routing_rules.prompts import FIXED_PROMPT_IDS, name_prompt_id
from routing_rules.schema import RuleSet
from routing_rules.snapshot import RuleSnapshot
from routing_rules.website import website_prompt_ids


def rule_set_prompt_ids(rules: RuleSet) -> frozenset[str]:
    """The prompt ids a rule set names: its prompt lists, messages, the host's name and the
    websites it reads out."""
    p = rules.prompts
    named = [
        *p.greeting,
        *p.language_offer,
        *p.menu_intro,
        *p.transferring,
        *p.transfer_failed,
        *p.override,
        *p.invalid,
        *p.no_input,
        *p.goodbye,
        *rules.after_hours.message,
        rules.host.prompt_id,
    ]
    return frozenset(named) | website_prompt_ids(rules)


def playable_prompt_ids(snapshot: RuleSnapshot) -> frozenset[str]:
    """The rule set's own prompts, the fixed ids, and the name of every municipality of the
    rule set and every exchange of its geodata (menus and whispers say them)."""
    names = {name_prompt_id(m) for m in snapshot.municipalities}
    exchanges = {f"exchange-{e}" for e in snapshot.geo.exchanges}
    return FIXED_PROMPT_IDS | rule_set_prompt_ids(snapshot.rules) | names | exchanges
