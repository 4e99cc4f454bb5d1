"""The decision engine: one call's facts and a rule snapshot in, the next step and its reasons out.

Order of evaluation (each stage leaves a trace step naming its evidence and rule):

1. the greeting, until it has been heard or skipped (it offers the status check's key where
   the caller's possible municipalities or the host offer one);
2. the service-request status check, when the caller pressed its key in the greeting: the
   status menu when several servers could answer, the request number, then what was found
   and the offer of an agent;
3. the host's schedule: emergency override, exceptional periods and holidays, weekly hours —
   closed means the after-hours path;
4. where the caller lives: a delivered location (point index); else the calling number's
   exchange, routed without asking when one municipality's share reaches the dominance
   threshold, else a menu of the exchange's municipalities; else, for an unknown or withheld
   number, the member menu (when the members fit ``max_menu_options``) or the host's agents.
   ``0`` at any menu asks for a live agent;
5. the municipality's route (an arrangement in effect, its own contact centre, or the host's
   agents) and whether that destination is itself open, in its own time zone;
6. the transfer: the fallback chain's links that are open now, the whisper, and the message
   that names the number to call when every link fails.

Where the rules read out a website (``website_heard_at``, :mod:`routing_rules.website`), its
prompt goes into the step's prompts at that point (after the after-hours message, before the
transfer announcement, before the final goodbye) and into ``Decision.websites``.

This module keeps the order of the stages and the greeting, the schedule and the after-hours
path; the other stages have a module each, and all of them advance one
:class:`~routing_rules.call_walk.CallWalk`: where the caller lives
(:mod:`routing_rules.residence_stage`), the status check (:mod:`routing_rules.status_stage`),
the municipality menu (:mod:`routing_rules.menu_stage`), the route and the transfer
(:mod:`routing_rules.transfer_stage`).

The routing policy itself (residence, unknown callers, menu defaults, routes, chains, the final
message, caller id) lives in :mod:`routing_rules.policy`, which the fallback dialplan follows
too; this module walks a call through it, records a typed trace, and states the evidence that
settled the route and whether the after-hours path applied.

Nothing here performs I/O; the same snapshot and context always give the same decision.
"""

from __future__ import annotations

from routing_rules import policy
from routing_rules.call_walk import AGENT_KEY, CallWalk
from routing_rules.decision import (
    CallContext,
    Decision,
    Evidence,
    PlayGreeting,
    PlayMessage,
    Prompts,
    Step,
    TraceStage,
)
from routing_rules.menu_stage import run_menu
from routing_rules.residence_stage import known_municipality, residence
from routing_rules.schedules import OpenState
from routing_rules.schema import Language
from routing_rules.snapshot import RuleSnapshot
from routing_rules.status_check import offer_prompts
from routing_rules.status_stage import offer_for_caller, status_check
from routing_rules.transfer_stage import agent_transfer, route, transfer


def decide(snapshot: RuleSnapshot, ctx: CallContext) -> Decision:
    """Decide the next step of one call; pure, never raises for any call facts."""
    walk = CallWalk(snapshot, ctx)
    return walk.finish(_next_step(walk))


def _next_step(walk: CallWalk) -> Step:
    if walk.ctx.at.tzinfo is None:
        walk.note(
            TraceStage.TIME,
            "the call time has no time zone",
            "host.schedule",
            "read as host time",
        )
    _check_dialled(walk)
    if not walk.ctx.greeting_done:
        return _greeting(walk)
    walk.note(TraceStage.GREETING, "greeting heard or skipped", "prompts.greeting", "continue")
    status_step = status_check(walk)
    if status_step is not None:
        return status_step
    host_state = walk.open(walk.rules.host.schedule)
    walk.note(TraceStage.HOST_HOURS, host_state.reason, host_state.rule, _open_word(host_state))
    if not host_state.open:
        return _after_hours(walk, host_state)
    found = residence(walk)
    if found.menu is not None:
        return run_menu(walk, found.menu)
    if walk.next_digit() == AGENT_KEY:
        walk.take_digit()
        if walk.agents_on_duty():
            walk.evidence = Evidence.CALLER_CHOICE
            walk.note(
                TraceStage.AGENT, "0 pressed during the greeting", "greeting agent key", "agent"
            )
            return agent_transfer(walk, found.municipality_id)
        walk.note(TraceStage.AGENT, "0 pressed, no agent on duty", "host.agents", "ignored")
    if found.municipality_id is None:
        walk.note(TraceStage.RESIDENCE, "no municipality found", "overlap_policy", "host agents")
        return agent_transfer(walk, None)
    return route(walk, found.municipality_id)


def _check_dialled(walk: CallWalk) -> None:
    dialled = walk.ctx.dialled
    wanted = "".join(c for c in dialled if c.isdigit())
    for i, number in enumerate(walk.rules.host.numbers):
        digits = "".join(c for c in number.number if c.isdigit())
        if wanted == digits or (len(wanted) >= 10 and digits.endswith(wanted[-10:])):
            walk.number_kind = number.kind
            walk.note(TraceStage.DIALLED, f"dialled {dialled}", f"host.numbers[{i}]", number.kind)
            return
    walk.note(TraceStage.DIALLED, f"dialled {dialled!r}", "host.numbers", "not a host number")


def _greeting(walk: CallWalk) -> PlayGreeting:
    rules = walk.rules
    prompts = list(walk.prompts(rules.prompts.greeting))
    switch: dict[str, Language] = {}
    for lang in rules.languages.offered:
        if lang.key is not None and lang.code != walk.language.code:
            switch[lang.key] = lang
            prompts.extend(walk.prompts(rules.prompts.language_offer, lang))
    walk.note(
        TraceStage.GREETING,
        "greeting not yet played",
        "prompts.greeting",
        "play the greeting",
    )
    offered = offer_for_caller(walk)
    follow: dict[str, Prompts] = {}
    if offered is not None:
        prompts.extend(walk.prompts(offer_prompts(offered.key)))
        follow = {k: walk.prompts(offer_prompts(offered.key), lang) for k, lang in switch.items()}
    return PlayGreeting(
        prompts=tuple(prompts),
        language_keys={key: lang.code for key, lang in switch.items()},
        agent_key=AGENT_KEY,
        status_key=offered.key if offered is not None else None,
        language_follow_up=follow,
    )


def _after_hours(walk: CallWalk, state: OpenState) -> Step:
    walk.after_hours = True
    walk.evidence = Evidence.DEFAULT
    rules = walk.rules
    after = policy.after_hours_route(rules, state.override)
    if after.destination is None:
        walk.note(TraceStage.AFTER_HOURS, "no after-hours destination", "after_hours", "message")
        website = walk.hear_website(known_municipality(walk), "after_hours")
        return PlayMessage(walk.prompts([*after.message, *website, *rules.prompts.goodbye]))
    rule = f"{state.rule}.destination" if state.override is not None else "after_hours.destination"
    walk.note(TraceStage.AFTER_HOURS, state.reason, rule, f"transfer to {after.destination}")
    website = walk.hear_website(known_municipality(walk), "after_hours")
    return transfer(walk, "after_hours", None, after.destination, [*after.message, *website])


def _open_word(state: OpenState) -> str:
    return "open" if state.open else "closed"
