"""The menu of the municipalities a caller may live in: the keys pressed so far are read
against it (``0`` asks for a live agent); while attempts remain and no choice is made it is
offered (again), and once they are used up the rules' default choice routes the call.
"""

from __future__ import annotations

from routing_rules import policy
from routing_rules.call_walk import AGENT_KEY, CallWalk
from routing_rules.decision import Evidence, OfferMenu, Step, TraceStage
from routing_rules.prompts import name_prompt_id, option_prompts
from routing_rules.residence_stage import Menu
from routing_rules.transfer_stage import agent_transfer, route


def run_menu(walk: CallWalk, menu: Menu) -> Step:
    """Where the caller's keys at ``menu`` lead: a route, an agent, the default, or the menu
    offered once more."""
    overlap = walk.rules.overlap_policy
    by_digit = {o.digit: o for o in menu.options}
    attempts = 0
    last: str | None = None
    while attempts < overlap.max_attempts:
        entry = walk.take_digit()
        if entry is None:
            break
        if entry in by_digit:
            choice = by_digit[entry]
            walk.evidence = Evidence.CALLER_CHOICE
            walk.note(
                TraceStage.MENU, f"{menu.menu_id}: pressed {entry}", "menu option", choice.label
            )
            return route(walk, choice.municipality_id)
        if entry == AGENT_KEY and walk.agents_on_duty():
            walk.evidence = Evidence.CALLER_CHOICE
            walk.note(TraceStage.MENU, f"{menu.menu_id}: pressed 0", "0 = live agent", "agent")
            return agent_transfer(walk, None)
        attempts += 1
        last = entry
        what = "no input" if entry == "" else f"pressed {entry!r} (not an option)"
        walk.note(
            TraceStage.MENU,
            f"{menu.menu_id}: {what}",
            f"overlap_policy.max_attempts {overlap.max_attempts}",
            f"attempt {attempts} of {overlap.max_attempts} used",
        )
    if attempts >= overlap.max_attempts:
        return _menu_default(walk, menu)
    return _offer(walk, menu, attempts, last)


def _menu_default(walk: CallWalk, menu: Menu) -> Step:
    walk.evidence = Evidence.DEFAULT
    rule = f"overlap_policy.default_choice {walk.rules.overlap_policy.default_choice}"
    chosen = policy.menu_default(walk.rules, [o.municipality_id for o in menu.options])
    if chosen is not None:
        walk.note(TraceStage.MENU, f"{menu.menu_id}: no choice made", rule, chosen)
        return route(walk, chosen)
    walk.note(TraceStage.MENU, f"{menu.menu_id}: no choice made", rule, "host agents")
    return agent_transfer(walk, None)


def _offer(walk: CallWalk, menu: Menu, attempts: int, last: str | None) -> OfferMenu:
    rules = walk.rules
    ids: list[str] = []
    if last is not None:
        ids += rules.prompts.no_input if last == "" else rules.prompts.invalid
    agents = walk.agents_on_duty()
    ids += rules.prompts.menu_intro
    ids += option_prompts(
        "menu-for", ((name_prompt_id(o.municipality_id), o.digit) for o in menu.options), agents
    )
    listing = ", ".join(f"{o.digit} {o.label}" for o in menu.options)
    walk.note(
        TraceStage.MENU,
        f"{menu.menu_id}: {listing}" + (", 0 agent" if agents else ""),
        menu.rule,
        f"ask (attempt {attempts + 1} of {rules.overlap_policy.max_attempts})",
    )
    return OfferMenu(
        menu_id=menu.menu_id,
        prompts=walk.prompts(ids),
        options=menu.options,
        timeout_s=rules.overlap_policy.menu_timeout_s,
        attempt=attempts + 1,
        max_attempts=rules.overlap_policy.max_attempts,
    )
