"""The decision engine: one call's facts and a rule snapshot in, the next step and its reasons out.

Order of evaluation (each stage leaves a trace step naming its evidence and rule):

1. the greeting, until it has been heard or skipped;
2. the host's schedule: emergency override, exceptional periods and holidays, weekly hours —
   closed means the after-hours path;
3. where the caller lives: a delivered location (point index); else the calling number's
   exchange, routed without asking when one municipality's share reaches the dominance
   threshold, else a menu of the exchange's municipalities; else, for an unknown or withheld
   number, the member menu (when the members fit ``max_menu_options``) or the host's agents.
   ``0`` at any menu asks for a live agent;
4. the municipality's route (an arrangement in effect, its own contact centre, or the host's
   agents) and whether that destination is itself open, in its own time zone;
5. the transfer: the fallback chain's links that are open now, the whisper, and the message
   that names the number to call when every link fails.

Where the rules read out a website (``website_heard_at``, :mod:`routing_rules.website`), its
prompt goes into the step's prompts at that point (after the after-hours message, before the
transfer announcement, before the final goodbye) and into ``Decision.websites``.

The routing policy itself (residence, unknown callers, menu defaults, routes, chains, the final
message, caller id) lives in :mod:`routing_rules.policy`, which the fallback dialplan follows
too; this module walks a call through it, records a typed trace, and states the evidence that
settled the route and whether the after-hours path applied.

Nothing here performs I/O; the same snapshot and context always give the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from geo.calling_number import parse_calling_number
from geo.model import ExchangeOverlap
from routing_rules import policy
from routing_rules.decision import (
    CallContext,
    CheckStatus,
    Decision,
    Evidence,
    MenuOption,
    NumberKind,
    OfferMenu,
    PlayGreeting,
    PlayMessage,
    PromptRef,
    Prompts,
    StatusResult,
    Step,
    TraceStage,
    TraceStep,
    Transfer,
    TransferKind,
    TransferTarget,
    WebsiteHeard,
    WebsitePoint,
)
from routing_rules.policy import ExchangeRule, RouteRule, UnknownCallerRule
from routing_rules.prompts import digit_prompts
from routing_rules.schedules import OpenState, schedule_state
from routing_rules.schema import HOST_AGENTS, MESSAGE_LINK, Destination, Language
from routing_rules.snapshot import RuleSnapshot
from routing_rules.status_check import (
    StatusOffer,
    StatusService,
    menu_prompts,
    offer_prompts,
    status_offer,
)
from routing_rules.website import website_at

AGENT_KEY = "0"
_PROMPT_LANGUAGE = {"en": "en", "fr": "fr_CA"}
_LANGUAGE_NAME = {"en": "English", "fr": "French"}


def decide(snapshot: RuleSnapshot, ctx: CallContext) -> Decision:
    """Decide the next step of one call; pure, never raises for any call facts."""
    return _Call(snapshot, ctx).decide()


@dataclass(frozen=True, slots=True)
class _Menu:
    menu_id: str
    options: tuple[MenuOption, ...]
    rule: str


@dataclass(frozen=True, slots=True)
class _Residence:
    """Where the caller lives, or the menu that will ask them."""

    municipality_id: str | None
    menu: _Menu | None


class _Call:
    def __init__(self, snapshot: RuleSnapshot, ctx: CallContext) -> None:
        self.snap = snapshot
        self.rules = snapshot.rules
        self.ctx = ctx
        self.trace: list[TraceStep] = []
        self.host_zone = ZoneInfo(self.rules.schedules[self.rules.host.schedule].timezone)
        self.at = ctx.at if ctx.at.tzinfo is not None else ctx.at.replace(tzinfo=self.host_zone)
        self.language = self._language()
        self.digits = list(ctx.digits)
        self.cursor = 0
        self.exchange: ExchangeOverlap | None = None
        self.evidence: Evidence | None = None
        self.after_hours = False
        self.number_kind: NumberKind | None = None
        self.websites: list[WebsiteHeard] = []

    def note(self, stage: TraceStage, evidence: str, rule: str, result: str) -> None:
        self.trace.append(TraceStep(stage, evidence, rule, result))

    def finish(self, step: Step) -> Decision:
        evidence = None if isinstance(step, PlayGreeting | OfferMenu) else self.evidence
        return Decision(
            step=step,
            trace=tuple(self.trace),
            evidence=evidence,
            after_hours=self.after_hours,
            number_kind=self.number_kind,
            websites=tuple(self.websites),
        )

    def prompts(self, ids: Sequence[str], language: Language | None = None) -> Prompts:
        lang = (language or self.language).prompt_language
        return tuple(PromptRef(i, lang) for i in ids)

    # -- stages ---------------------------------------------------------------------------

    def decide(self) -> Decision:
        if self.ctx.at.tzinfo is None:
            self.note(
                TraceStage.TIME,
                "the call time has no time zone",
                "host.schedule",
                "read as host time",
            )
        self._check_dialled()
        if not self.ctx.greeting_done:
            return self.finish(self._greeting())
        self.note(TraceStage.GREETING, "greeting heard or skipped", "prompts.greeting", "continue")
        status_step = self._status_check()
        if status_step is not None:
            return self.finish(status_step)
        host_state = self._open(self.rules.host.schedule)
        self.note(TraceStage.HOST_HOURS, host_state.reason, host_state.rule, _open_word(host_state))
        if not host_state.open:
            return self.finish(self._after_hours(host_state))
        residence = self._residence()
        if residence.menu is not None:
            return self._run_menu(residence.menu)
        if self._next_digit() == AGENT_KEY:
            self.cursor += 1
            if self._agents_on_duty():
                self.evidence = Evidence.CALLER_CHOICE
                self.note(
                    TraceStage.AGENT, "0 pressed during the greeting", "greeting agent key", "agent"
                )
                return self.finish(self._agent_transfer(residence.municipality_id))
            self.note(TraceStage.AGENT, "0 pressed, no agent on duty", "host.agents", "ignored")
        if residence.municipality_id is None:
            self.note(
                TraceStage.RESIDENCE, "no municipality found", "overlap_policy", "host agents"
            )
            return self.finish(self._agent_transfer(None))
        return self.finish(self._route(residence.municipality_id))

    def _language(self) -> Language:
        offered: dict[str, Language] = {lang.code: lang for lang in self.rules.languages.offered}
        chosen = offered.get(self.ctx.language)
        if chosen is None:
            chosen = offered[self.rules.languages.default]
            self.note(
                TraceStage.LANGUAGE,
                f"language {self.ctx.language!r} is not offered",
                "languages.default",
                chosen.code,
            )
        return chosen

    def _check_dialled(self) -> None:
        wanted = "".join(c for c in self.ctx.dialled if c.isdigit())
        for i, number in enumerate(self.rules.host.numbers):
            digits = "".join(c for c in number.number if c.isdigit())
            if wanted == digits or (len(wanted) >= 10 and digits.endswith(wanted[-10:])):
                self.number_kind = number.kind
                self.note(
                    TraceStage.DIALLED,
                    f"dialled {self.ctx.dialled}",
                    f"host.numbers[{i}]",
                    number.kind,
                )
                return
        self.note(
            TraceStage.DIALLED,
            f"dialled {self.ctx.dialled!r}",
            "host.numbers",
            "not a host number",
        )

    def _greeting(self) -> PlayGreeting:
        prompts = list(self.prompts(self.rules.prompts.greeting))
        switch: dict[str, Language] = {}
        for lang in self.rules.languages.offered:
            if lang.key is not None and lang.code != self.language.code:
                switch[lang.key] = lang
                prompts.extend(self.prompts(self.rules.prompts.language_offer, lang))
        self.note(
            TraceStage.GREETING,
            "greeting not yet played",
            "prompts.greeting",
            "play the greeting",
        )
        offered = self._status_offer()
        follow: dict[str, Prompts] = {}
        if offered is not None:
            prompts.extend(self.prompts(offer_prompts(offered.key)))
            follow = {
                k: self.prompts(offer_prompts(offered.key), lang) for k, lang in switch.items()
            }
        return PlayGreeting(
            prompts=tuple(prompts),
            language_keys={key: lang.code for key, lang in switch.items()},
            agent_key=AGENT_KEY,
            status_key=offered.key if offered is not None else None,
            language_follow_up=follow,
        )

    # -- service-request status -----------------------------------------------------------

    def _quiet_residence(self) -> _Residence:
        """Where the caller lives, or the menu that would ask them, worked out without leaving
        a trace: the routing stages note it when they get there."""
        kept = (len(self.trace), self.evidence, self.exchange)
        residence = self._residence()
        del self.trace[kept[0] :]
        self.evidence, self.exchange = kept[1], kept[2]
        return residence

    def _known_municipality(self) -> str | None:
        """Where the caller lives when the call tells without asking (a location, a dominant
        exchange)."""
        return self._quiet_residence().municipality_id

    def _status_offer(self) -> StatusOffer | None:
        """The status check offered to this caller."""
        residence = self._quiet_residence()
        menu = residence.menu
        possible = [o.municipality_id for o in menu.options] if menu is not None else None
        return status_offer(self.rules, residence.municipality_id, possible)

    def _status_check(self) -> Step | None:
        """The status check when the caller's key asked for it (after the status menu when
        several servers may answer), and where the call goes after it: a found request and no
        agent wanted ends the call, anything else routes the caller to a person as usual
        (None: not asked for, route as usual)."""
        offered = self._status_offer()
        if offered is None or self._next_digit() != offered.key:
            return None
        self.cursor += 1
        chosen: StatusService | None = offered.services[0]
        entry = ""
        if len(offered.services) > 1:
            if self._next_digit() is None:
                return self._status_menu(offered)
            entry = self.digits[self.cursor]
            self.cursor += 1
            chosen = self._status_choice(offered, entry)
        if self.ctx.status is None:
            return self._ask_status(offered, chosen, entry)
        if self.ctx.status is StatusResult.NO_CHOICE:
            if entry == AGENT_KEY:
                self.cursor -= 1  # the routing below takes the 0 as a request for an agent
            self.note(
                TraceStage.STATUS,
                f"status check: {self.ctx.status}",
                "status menu",
                "route to a person",
            )
            return None
        answer = self._next_digit()
        if answer is not None:
            self.cursor += 1
        wants_agent = answer == AGENT_KEY or self.ctx.status is not StatusResult.FOUND
        rule = chosen.rule if chosen is not None else "status menu"
        self.note(
            TraceStage.STATUS,
            f"status check: {self.ctx.status}; then {'key ' + answer if answer else 'no key'}",
            rule,
            "route to a person" if wants_agent else "goodbye",
        )
        if wants_agent:
            return None
        return PlayMessage(self.prompts(self.rules.prompts.goodbye))

    def _status_menu(self, offered: StatusOffer) -> OfferMenu:
        options = tuple(
            MenuOption(str(n), s.owner_id, s.name.get(self.language.code))
            for n, s in enumerate(offered.services, start=1)
        )
        agents = self._agents_on_duty()
        listing = ", ".join(f"{o.digit} {o.label}" for o in options)
        self.note(
            TraceStage.STATUS,
            f"{offered.key} pressed during the greeting; status menu: {listing}"
            + (", 0 agent" if agents else ""),
            offered.why_menu,
            "ask which server",
        )
        return OfferMenu(
            menu_id="status",
            prompts=self.prompts(menu_prompts(offered.services, agents)),
            options=options,
            timeout_s=self.rules.overlap_policy.menu_timeout_s,
            attempt=1,
            max_attempts=1,
        )

    def _status_choice(self, offered: StatusOffer, entry: str) -> StatusService | None:
        """The server picked at the status menu with ``entry`` (None: no choice made)."""
        by_digit = {str(n): s for n, s in enumerate(offered.services, start=1)}
        chosen = by_digit.get(entry)
        what = "no input" if entry == "" else f"pressed {entry}"
        result = (
            chosen.name.get(self.language.code)
            if chosen is not None
            else "agent"
            if entry == AGENT_KEY
            else "not an option"
        )
        self.note(TraceStage.STATUS, f"status menu: {what}", "status menu option", result)
        return chosen

    def _ask_status(self, offered: StatusOffer, chosen: StatusService | None, entry: str) -> Step:
        language = self.language.prompt_language
        timeout_s = self.rules.overlap_policy.menu_timeout_s
        if chosen is None:
            unchosen: list[str] = []
            if entry != AGENT_KEY:
                unchosen = list(
                    self.rules.prompts.no_input if entry == "" else self.rules.prompts.invalid
                )
            return CheckStatus(None, None, language, timeout_s, unchosen=self.prompts(unchosen))
        evidence = (
            f"{offered.key} pressed during the greeting"
            if len(offered.services) == 1
            else f"{chosen.owner_id} chosen at the status menu"
        )
        self.note(
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

    def _open(self, schedule_name: str) -> OpenState:
        return schedule_state(schedule_name, self.rules.schedules[schedule_name], self.at)

    def _agents_on_duty(self) -> bool:
        agents = self.snap.destinations[self.rules.host.agents]
        return self._open(agents.schedule).open

    def _next_digit(self) -> str | None:
        return self.digits[self.cursor] if self.cursor < len(self.digits) else None

    # -- after hours ----------------------------------------------------------------------

    def _after_hours(self, state: OpenState) -> Step:
        self.after_hours = True
        self.evidence = Evidence.DEFAULT
        route = policy.after_hours_route(self.rules, state.override)
        if route.destination is None:
            self.note(
                TraceStage.AFTER_HOURS, "no after-hours destination", "after_hours", "message"
            )
            website = self._website(self._known_municipality(), "after_hours")
            return PlayMessage(
                self.prompts([*route.message, *website, *self.rules.prompts.goodbye])
            )
        rule = (
            f"{state.rule}.destination" if state.override is not None else "after_hours.destination"
        )
        self.note(TraceStage.AFTER_HOURS, state.reason, rule, f"transfer to {route.destination}")
        website = self._website(self._known_municipality(), "after_hours")
        return self._transfer("after_hours", None, route.destination, [*route.message, *website])

    # -- where the caller lives -----------------------------------------------------------

    def _residence(self) -> _Residence:
        located = self._from_location()
        if located is not None:
            self.evidence = Evidence.LOCATION
            return _Residence(located, None)
        overlap = self.rules.overlap_policy
        placement = self.snap.geo.place_number(self.ctx.calling)
        shown = f"{placement.npa_nxx[:3]}-{placement.npa_nxx[3:]}-xxxx" if placement.npa_nxx else ""
        exchange = placement.exchange
        if exchange is None:
            reason = placement.failure.value if placement.failure else "unplaced"
            evidence = f"calling number {shown or 'not usable'}: {reason}"
            if placement.detail:
                evidence += f" ({placement.detail})"
            return self._unknown_caller(evidence)
        self.exchange = exchange
        residence = policy.exchange_residence(self.snap, exchange)
        shares = residence.shares
        listing = ", ".join(f"{s.id} {s.share:.0%}" for s in shares) or "none in this rule set"
        evidence = f"calling number {shown} → exchange {exchange.name}: {listing}"
        if exchange.exchange not in self.rules.exchanges:
            evidence += " (an exchange this centre does not serve)"
        dominance = f"overlap_policy.dominance_share {overlap.dominance_share:.0%}"
        if residence.rule is ExchangeRule.NONE:
            return self._unknown_caller(evidence)
        if residence.rule is not ExchangeRule.MENU:
            rule = (
                dominance
                if residence.rule is ExchangeRule.DOMINANT
                else "only municipality of this rule set"
            )
            self.evidence = Evidence.EXCHANGE
            self.note(TraceStage.EXCHANGE, evidence, rule, shares[0].id)
            return _Residence(shares[0].id, None)
        options = self._options(policy.exchange_menu(self.rules, residence))
        rule = f"{dominance} not reached"
        self.note(TraceStage.EXCHANGE, evidence, rule, "menu")
        return _Residence(None, _Menu(f"exchange:{exchange.exchange}", options, rule))

    def _options(self, municipality_ids: Sequence[str]) -> tuple[MenuOption, ...]:
        return tuple(
            MenuOption(str(n), m, self.snap.municipalities[m].name.get(self.language.code))
            for n, m in enumerate(municipality_ids, start=1)
        )

    def _from_location(self) -> str | None:
        if self.ctx.location is None:
            return None
        lat, lon = self.ctx.location
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            self.note(
                TraceStage.LOCATION, "location is not a valid latitude/longitude", "-", "ignored"
            )
            return None
        evidence = f"location {lat:.4f},{lon:.4f}"
        found = self.snap.geo.locate(lat, lon)
        if found is None:
            self.note(TraceStage.LOCATION, evidence, "point index", "outside every municipality")
            return None
        if found not in self.snap.municipalities:
            self.note(
                TraceStage.LOCATION,
                f"{evidence} in {found}",
                "municipalities",
                "not in this rule set",
            )
            return None
        self.note(TraceStage.LOCATION, evidence, "point index", found)
        return found

    def _unknown_caller(self, evidence: str) -> _Residence:
        overlap = self.rules.overlap_policy
        rule = f"overlap_policy.unknown_caller {overlap.unknown_caller}"
        unknown = policy.unknown_caller(self.rules)
        if unknown.rule is UnknownCallerRule.MEMBER_MENU:
            self.note(TraceStage.NUMBER, evidence, rule, "member menu")
            return _Residence(None, _Menu("members", self._options(unknown.members), rule))
        self.evidence = Evidence.DEFAULT
        if unknown.rule is UnknownCallerRule.HOST_AGENTS:
            self.note(TraceStage.NUMBER, evidence, rule, "host agents")
        elif unknown.rule is UnknownCallerRule.ONLY_MEMBER:
            self.note(
                TraceStage.NUMBER, evidence, rule, f"{unknown.municipality_id} (the only member)"
            )
        else:
            why = (
                f"{len(unknown.members)} members exceed the "
                f"{overlap.max_menu_options}-option menu limit"
                if unknown.rule is UnknownCallerRule.TOO_MANY_MEMBERS
                else "no member municipality"
            )
            self.note(
                TraceStage.NUMBER,
                evidence,
                f"{rule}, overlap_policy.max_menu_options {overlap.max_menu_options}",
                f"host agents: {why}",
            )
        return _Residence(unknown.municipality_id, None)

    # -- menus ----------------------------------------------------------------------------

    def _run_menu(self, menu: _Menu) -> Decision:
        overlap = self.rules.overlap_policy
        by_digit = {o.digit: o for o in menu.options}
        attempts = 0
        last: str | None = None
        while attempts < overlap.max_attempts and self._next_digit() is not None:
            entry = self.digits[self.cursor]
            self.cursor += 1
            if entry in by_digit:
                choice = by_digit[entry]
                self.evidence = Evidence.CALLER_CHOICE
                self.note(
                    TraceStage.MENU, f"{menu.menu_id}: pressed {entry}", "menu option", choice.label
                )
                return self.finish(self._route(choice.municipality_id))
            if entry == AGENT_KEY and self._agents_on_duty():
                self.evidence = Evidence.CALLER_CHOICE
                self.note(TraceStage.MENU, f"{menu.menu_id}: pressed 0", "0 = live agent", "agent")
                return self.finish(self._agent_transfer(None))
            attempts += 1
            last = entry
            what = "no input" if entry == "" else f"pressed {entry!r} (not an option)"
            self.note(
                TraceStage.MENU,
                f"{menu.menu_id}: {what}",
                f"overlap_policy.max_attempts {overlap.max_attempts}",
                f"attempt {attempts} of {overlap.max_attempts} used",
            )
        if attempts >= overlap.max_attempts:
            return self.finish(self._menu_default(menu))
        return self.finish(self._offer(menu, attempts, last))

    def _menu_default(self, menu: _Menu) -> Step:
        self.evidence = Evidence.DEFAULT
        rule = f"overlap_policy.default_choice {self.rules.overlap_policy.default_choice}"
        chosen = policy.menu_default(self.rules, [o.municipality_id for o in menu.options])
        if chosen is not None:
            self.note(TraceStage.MENU, f"{menu.menu_id}: no choice made", rule, chosen)
            return self._route(chosen)
        self.note(TraceStage.MENU, f"{menu.menu_id}: no choice made", rule, "host agents")
        return self._agent_transfer(None)

    def _offer(self, menu: _Menu, attempts: int, last: str | None) -> OfferMenu:
        ids: list[str] = []
        if last is not None:
            ids += self.rules.prompts.no_input if last == "" else self.rules.prompts.invalid
        ids += self.rules.prompts.menu_intro
        for option in menu.options:
            ids += ["menu-for", f"name-{option.municipality_id}", "menu-press"]
            ids += digit_prompts(option.digit)
        agents = self._agents_on_duty()
        if agents:
            ids.append("menu-agent")
        listing = ", ".join(f"{o.digit} {o.label}" for o in menu.options)
        self.note(
            TraceStage.MENU,
            f"{menu.menu_id}: {listing}" + (", 0 agent" if agents else ""),
            menu.rule,
            f"ask (attempt {attempts + 1} of {self.rules.overlap_policy.max_attempts})",
        )
        return OfferMenu(
            menu_id=menu.menu_id,
            prompts=self.prompts(ids),
            options=menu.options,
            timeout_s=self.rules.overlap_policy.menu_timeout_s,
            attempt=attempts + 1,
            max_attempts=self.rules.overlap_policy.max_attempts,
        )

    # -- routes and transfers -------------------------------------------------------------

    def _local_date(self) -> date:
        return self.at.astimezone(self.host_zone).date()

    def _route(self, municipality_id: str) -> Step:
        mun = self.snap.municipalities[municipality_id]
        today = self._local_date()
        route = policy.municipality_route(self.rules, municipality_id, today)
        arrangement = route.arrangement
        if arrangement is not None:
            until = f" until {arrangement.effective_until}" if arrangement.effective_until else ""
            model = (
                f", participation model {arrangement.participation_model}"
                if arrangement.participation_model
                else ""
            )
            self.note(
                TraceStage.ROUTE,
                f"{mun.name.en}: arrangement {arrangement.id} from "
                f"{arrangement.effective_from}{until}{model}",
                f"arrangements[{route.arrangement_index}]",
                route.route,
            )
        elif route.rule is RouteRule.NO_ARRANGEMENT_IN_EFFECT:
            self.note(
                TraceStage.ROUTE,
                f"{mun.name.en}: no arrangement in effect on {today}",
                "arrangements",
                route.route,
            )
        else:
            rule = (
                "its first destination"
                if route.rule is RouteRule.OWN_DESTINATION
                else "served by the host"
            )
            self.note(TraceStage.ROUTE, f"{mun.name.en} ({mun.role})", rule, route.route)
        if route.route == HOST_AGENTS:
            return self._agent_transfer(municipality_id)
        return self._transfer(
            "municipality", municipality_id, route.route, list(self.rules.prompts.transferring)
        )

    def _agent_transfer(self, municipality_id: str | None) -> Transfer:
        return self._transfer(
            "agent",
            municipality_id,
            policy.route_destination(self.rules, HOST_AGENTS),
            list(self.rules.prompts.transferring),
        )

    def _transfer(
        self,
        kind: TransferKind,
        municipality_id: str | None,
        first_id: str,
        announce_ids: list[str],
    ) -> Transfer:
        first = self.snap.destinations[first_id]
        links = policy.chain_links(first)
        chain: list[TransferTarget] = []
        for link_id in links:
            dest = self.snap.destinations[link_id]
            state = self._open(dest.schedule)
            if state.open:
                chain.append(self._target(dest, municipality_id))
            else:
                self.note(
                    TraceStage.DESTINATION_HOURS,
                    f"{dest.label}: {state.reason}",
                    state.rule,
                    "skip",
                )
        callback = self.rules.host.callback_number(first)
        result = " → ".join(t.destination_id for t in chain) or "no link open"
        self.note(
            TraceStage.TRANSFER,
            f"chain {' → '.join(links)}" + (" → message" if MESSAGE_LINK in first.fallback else ""),
            f"destination {first_id} fallback",
            f"{result}; if all fail: call {callback}",
        )
        if kind != "after_hours":
            announce_ids = [*self._website(municipality_id, "before_transfer"), *announce_ids]
        website = self._website(municipality_id, "transfer_failed")
        return Transfer(
            kind=kind,
            municipality_id=municipality_id,
            announce=self.prompts(announce_ids),
            chain=tuple(chain),
            final_message=self.prompts(policy.final_message(self.rules, first, website)),
        )

    def _website(self, municipality_id: str | None, point: WebsitePoint) -> list[str]:
        """The website prompt read out at ``point`` (none or one), noted in the trace."""
        owner = website_at(self.rules, municipality_id, point)
        if owner is None:
            return []
        prompt = PromptRef(owner.prompt_id, self.language.prompt_language)
        self.websites.append(WebsiteHeard(owner.owner_id, point, prompt, owner.rule))
        self.note(
            TraceStage.WEBSITE,
            f"{point.replace('_', ' ')}: the website of {owner.owner_id}",
            owner.rule,
            f"play {owner.prompt_id}",
        )
        return [owner.prompt_id]

    def _target(self, dest: Destination, municipality_id: str | None) -> TransferTarget:
        settings = self.rules.transfer
        offered = {lang.code: lang for lang in self.rules.languages.offered}
        whisper_lang = offered.get(settings.whisper_language)
        prompt_lang = (
            whisper_lang.prompt_language
            if whisper_lang
            else _PROMPT_LANGUAGE[settings.whisper_language]
        )
        ids: list[str] = []
        text: list[str] = []
        host = self.rules.host
        for part in settings.whisper:
            if part == "host":
                ids += ["whisper-intro", host.prompt_id]
                text.append(
                    f"3-1-1 call transferred from {host.name.get(settings.whisper_language)}"
                )
            elif part == "municipality" and municipality_id is not None:
                mun = self.snap.municipalities[municipality_id]
                ids += ["whisper-resident", f"name-{municipality_id}"]
                text.append(f"the caller lives in {mun.name.get(settings.whisper_language)}")
            elif part == "exchange" and self.exchange is not None:
                ids += ["whisper-exchange", f"exchange-{self.exchange.exchange}"]
                text.append(f"calling from the exchange of {self.exchange.name}")
            elif part == "language":
                ids.append(f"whisper-language-{self.language.code}")
                text.append(f"language: {_LANGUAGE_NAME[self.language.code]}")
            elif part == "accept" and settings.require_accept:
                ids.append("whisper-accept")
                text.append(f"press {settings.accept_key} to accept this call")
        caller = parse_calling_number(self.ctx.calling).e164
        return TransferTarget(
            destination_id=dest.id,
            label=dest.label,
            dial=dest.dial,
            ring_timeout_s=policy.ring_timeout_s(self.rules, dest),
            whisper=tuple(PromptRef(i, prompt_lang) for i in ids),
            whisper_text="; ".join(text),
            accept_key=settings.accept_key if settings.require_accept else None,
            caller_id=policy.caller_id(self.rules, caller),
        )


def _open_word(state: OpenState) -> str:
    return "open" if state.open else "closed"
