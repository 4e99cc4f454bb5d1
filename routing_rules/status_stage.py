"""The service-request status check in one call: the offer heard in the greeting, the status
menu when several Open311 servers may answer, the check itself (``CheckStatus``, carried out
by the controller), and where the call goes once its result is known.

Which servers are offered, and how the offer is spoken, is :mod:`routing_rules.status_check`'s;
this stage applies it to one call and traces it.
"""

from __future__ import annotations

from routing_rules.call_walk import AGENT_KEY, CallWalk
from routing_rules.decision import (
    CheckStatus,
    MenuOption,
    OfferMenu,
    PlayMessage,
    StatusResult,
    Step,
    TraceStage,
)
from routing_rules.prompts import option_prompts
from routing_rules.residence_stage import quiet_residence
from routing_rules.status_check import StatusOffer, StatusService, status_offer


def offer_for_caller(walk: CallWalk) -> StatusOffer | None:
    """The status check offered to this caller."""
    residence = quiet_residence(walk)
    menu = residence.menu
    possible = [o.municipality_id for o in menu.options] if menu is not None else None
    return status_offer(walk.rules, residence.municipality_id, possible)


def status_check(walk: CallWalk) -> Step | None:
    """The status check when the caller's key asked for it (after the status menu when several
    servers may answer), and where the call goes after it: a found request and no agent wanted
    ends the call, anything else routes the caller to a person as usual (None: not asked for,
    route as usual)."""
    if walk.next_digit() is None:  # no key left: not asked for (and no residence to look up)
        return None
    offered = offer_for_caller(walk)
    if offered is None or walk.next_digit() != offered.key:
        return None
    walk.take_digit()
    chosen: StatusService | None = offered.services[0]
    entry = ""
    if len(offered.services) > 1:
        pressed = walk.take_digit()
        if pressed is None:
            return _status_menu(walk, offered)
        entry = pressed
        chosen = _status_choice(walk, offered, entry)
    status = walk.ctx.status
    if status is None:
        return _ask_status(walk, offered, chosen, entry)
    if status is StatusResult.NO_CHOICE:
        if entry == AGENT_KEY:
            walk.give_back_digit()  # the routing below takes the 0 as a request for an agent
        walk.note(TraceStage.STATUS, f"status check: {status}", "status menu", "route to a person")
        return None
    answer = walk.take_digit()
    wants_agent = answer == AGENT_KEY or status is not StatusResult.FOUND
    rule = chosen.rule if chosen is not None else "status menu"
    walk.note(
        TraceStage.STATUS,
        f"status check: {status}; then {'key ' + answer if answer else 'no key'}",
        rule,
        "route to a person" if wants_agent else "goodbye",
    )
    if wants_agent:
        return None
    return PlayMessage(walk.prompts(walk.rules.prompts.goodbye))


def _status_menu(walk: CallWalk, offered: StatusOffer) -> OfferMenu:
    options = tuple(
        MenuOption(str(n), s.owner_id, s.name.get(walk.language.code))
        for n, s in enumerate(offered.services, start=1)
    )
    agents = walk.agents_on_duty()
    listing = ", ".join(f"{o.digit} {o.label}" for o in options)
    walk.note(
        TraceStage.STATUS,
        f"{offered.key} pressed during the greeting; status menu: {listing}"
        + (", 0 agent" if agents else ""),
        offered.why_menu,
        "ask which server",
    )
    return OfferMenu(
        menu_id="status",
        prompts=walk.prompts(
            option_prompts(
                "status-menu-for",
                ((s.name_prompt, o.digit) for s, o in zip(offered.services, options, strict=True)),
                agents,
            )
        ),
        options=options,
        timeout_s=walk.rules.overlap_policy.menu_timeout_s,
        attempt=1,
        max_attempts=1,
    )


def _status_choice(walk: CallWalk, offered: StatusOffer, entry: str) -> StatusService | None:
    """The server picked at the status menu with ``entry`` (None: no choice made)."""
    by_digit = {str(n): s for n, s in enumerate(offered.services, start=1)}
    chosen = by_digit.get(entry)
    what = "no input" if entry == "" else f"pressed {entry}"
    result = (
        chosen.name.get(walk.language.code)
        if chosen is not None
        else "agent"
        if entry == AGENT_KEY
        else "not an option"
    )
    walk.note(TraceStage.STATUS, f"status menu: {what}", "status menu option", result)
    return chosen


def _ask_status(
    walk: CallWalk, offered: StatusOffer, chosen: StatusService | None, entry: str
) -> Step:
    rules = walk.rules
    language = walk.language.prompt_language
    timeout_s = rules.overlap_policy.menu_timeout_s
    if chosen is None:
        unchosen: list[str] = []
        if entry != AGENT_KEY:
            unchosen = list(rules.prompts.no_input if entry == "" else rules.prompts.invalid)
        return CheckStatus(None, None, language, timeout_s, unchosen=walk.prompts(unchosen))
    evidence = (
        f"{offered.key} pressed during the greeting"
        if len(offered.services) == 1
        else f"{chosen.owner_id} chosen at the status menu"
    )
    walk.note(
        TraceStage.STATUS,
        evidence,
        f"{chosen.rule}.key",
        f"ask {chosen.owner_id}'s Open311 server",
    )
    return CheckStatus(
        owner_id=chosen.owner_id,
        service=chosen.service,
        prompt_language=language,
        digit_timeout_s=timeout_s,
    )
