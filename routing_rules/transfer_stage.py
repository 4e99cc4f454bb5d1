"""Where the call goes: the municipality's route (an arrangement in effect, its own contact
centre, or the host's agents), then the transfer: the fallback chain's links that are open now,
each with its whisper, and the message that names the number to call when every link fails.

Website prompts the rules ask for go before the transfer announcement and into the final
message.
"""

from __future__ import annotations

from geo.calling_number import parse_calling_number
from routing_rules import policy
from routing_rules.call_walk import CallWalk
from routing_rules.decision import (
    PromptRef,
    Step,
    TraceStage,
    Transfer,
    TransferKind,
    TransferTarget,
)
from routing_rules.policy import RouteRule
from routing_rules.prompts import name_prompt_id
from routing_rules.schema import HOST_AGENTS, MESSAGE_LINK, Destination

_PROMPT_LANGUAGE = {"en": "en", "fr": "fr_CA"}
_LANGUAGE_NAME = {"en": "English", "fr": "French"}


def route(walk: CallWalk, municipality_id: str) -> Step:
    """The transfer to the destination that serves ``municipality_id`` today, traced."""
    mun = walk.snap.municipalities[municipality_id]
    today = walk.local_date()
    found = policy.municipality_route(walk.rules, municipality_id, today)
    arrangement = found.arrangement
    if arrangement is not None:
        until = f" until {arrangement.effective_until}" if arrangement.effective_until else ""
        model = (
            f", participation model {arrangement.participation_model}"
            if arrangement.participation_model
            else ""
        )
        walk.note(
            TraceStage.ROUTE,
            f"{mun.name.en}: arrangement {arrangement.id} from "
            f"{arrangement.effective_from}{until}{model}",
            f"arrangements[{found.arrangement_index}]",
            found.route,
        )
    elif found.rule is RouteRule.NO_ARRANGEMENT_IN_EFFECT:
        walk.note(
            TraceStage.ROUTE,
            f"{mun.name.en}: no arrangement in effect on {today}",
            "arrangements",
            found.route,
        )
    else:
        rule = (
            "its first destination"
            if found.rule is RouteRule.OWN_DESTINATION
            else "served by the host"
        )
        walk.note(TraceStage.ROUTE, f"{mun.name.en} ({mun.role})", rule, found.route)
    if found.route == HOST_AGENTS:
        return agent_transfer(walk, municipality_id)
    return transfer(
        walk, "municipality", municipality_id, found.route, list(walk.rules.prompts.transferring)
    )


def agent_transfer(walk: CallWalk, municipality_id: str | None) -> Transfer:
    """The transfer to the host's agents."""
    return transfer(
        walk,
        "agent",
        municipality_id,
        policy.route_destination(walk.rules, HOST_AGENTS),
        list(walk.rules.prompts.transferring),
    )


def transfer(
    walk: CallWalk,
    kind: TransferKind,
    municipality_id: str | None,
    first_id: str,
    announce_ids: list[str],
) -> Transfer:
    """The transfer along ``first_id``'s fallback chain, skipping the links closed now."""
    rules = walk.rules
    first = walk.snap.destinations[first_id]
    links = policy.chain_links(first)
    chain: list[TransferTarget] = []
    for link_id in links:
        dest = walk.snap.destinations[link_id]
        state = walk.open(dest.schedule)
        if state.open:
            chain.append(_target(walk, dest, municipality_id))
        else:
            walk.note(
                TraceStage.DESTINATION_HOURS,
                f"{dest.label}: {state.reason}",
                state.rule,
                "skip",
            )
    callback = rules.host.callback_number(first)
    result = " → ".join(t.destination_id for t in chain) or "no link open"
    walk.note(
        TraceStage.TRANSFER,
        f"chain {' → '.join(links)}" + (" → message" if MESSAGE_LINK in first.fallback else ""),
        f"destination {first_id} fallback",
        f"{result}; if all fail: call {callback}",
    )
    if kind != "after_hours":
        announce_ids = [*walk.hear_website(municipality_id, "before_transfer"), *announce_ids]
    website = walk.hear_website(municipality_id, "transfer_failed")
    return Transfer(
        kind=kind,
        municipality_id=municipality_id,
        announce=walk.prompts(announce_ids),
        chain=tuple(chain),
        final_message=walk.prompts(policy.final_message(rules, first, website)),
    )


def _target(walk: CallWalk, dest: Destination, municipality_id: str | None) -> TransferTarget:
    """One open link of the chain, with the whisper its agent hears before accepting."""
    rules = walk.rules
    settings = rules.transfer
    offered = {lang.code: lang for lang in rules.languages.offered}
    whisper_lang = offered.get(settings.whisper_language)
    prompt_lang = (
        whisper_lang.prompt_language
        if whisper_lang
        else _PROMPT_LANGUAGE[settings.whisper_language]
    )
    ids: list[str] = []
    text: list[str] = []
    host = rules.host
    for part in settings.whisper:
        if part == "host":
            ids += ["whisper-intro", host.prompt_id]
            text.append(f"3-1-1 call transferred from {host.name.get(settings.whisper_language)}")
        elif part == "municipality" and municipality_id is not None:
            mun = walk.snap.municipalities[municipality_id]
            ids += ["whisper-resident", name_prompt_id(municipality_id)]
            text.append(f"the caller lives in {mun.name.get(settings.whisper_language)}")
        elif part == "exchange" and walk.exchange is not None:
            ids += ["whisper-exchange", f"exchange-{walk.exchange.exchange}"]
            text.append(f"calling from the exchange of {walk.exchange.name}")
        elif part == "language":
            ids.append(f"whisper-language-{walk.language.code}")
            text.append(f"language: {_LANGUAGE_NAME[walk.language.code]}")
        elif part == "accept" and settings.require_accept:
            ids.append("whisper-accept")
            text.append(f"press {settings.accept_key} to accept this call")
    caller = parse_calling_number(walk.ctx.calling).e164
    return TransferTarget(
        destination_id=dest.id,
        label=dest.label,
        dial=dest.dial,
        ring_timeout_s=policy.ring_timeout_s(rules, dest),
        whisper=tuple(PromptRef(i, prompt_lang) for i in ids),
        whisper_text="; ".join(text),
        accept_key=settings.accept_key if settings.require_accept else None,
        caller_id=policy.caller_id(rules, caller),
    )
