"""One call's walk through the rules: its facts, and what the stages have settled so far.

The decision engine (:mod:`routing_rules.engine`) walks a call through its stages in order; each
stage (:mod:`routing_rules.residence_stage`, :mod:`routing_rules.status_stage`,
:mod:`routing_rules.menu_stage`, :mod:`routing_rules.transfer_stage`) reads and advances the
same ``CallWalk``: the keys pressed so far, the typed trace, the evidence that settled the
route, the exchange the caller was placed in and the websites read out. A walk lives for one
call to ``decide`` and does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from geo.model import ExchangeOverlap
from routing_rules.decision import (
    CallContext,
    Decision,
    Evidence,
    NumberKind,
    OfferMenu,
    PlayGreeting,
    PromptRef,
    Prompts,
    Step,
    TraceStage,
    TraceStep,
    WebsiteHeard,
    WebsitePoint,
)
from routing_rules.schedules import OpenState, schedule_state
from routing_rules.schema import Language
from routing_rules.snapshot import RuleSnapshot
from routing_rules.website import website_at

AGENT_KEY = "0"
"""The key that asks for a live agent, during the greeting and at every menu."""


class CallWalk:
    """One call's facts and what its walk has settled so far; ``finish`` makes the decision."""

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

    def next_digit(self) -> str | None:
        """The next key the caller pressed, not yet taken by a stage (None: no more)."""
        return self.digits[self.cursor] if self.cursor < len(self.digits) else None

    def take_digit(self) -> str | None:
        """The next key the caller pressed, taken by the asking stage (None: no more)."""
        digit = self.next_digit()
        if digit is not None:
            self.cursor += 1
        return digit

    def give_back_digit(self) -> None:
        """Leave the last key taken for the stage that follows to read again."""
        self.cursor -= 1

    def open(self, schedule_name: str) -> OpenState:
        return schedule_state(schedule_name, self.rules.schedules[schedule_name], self.at)

    def agents_on_duty(self) -> bool:
        agents = self.snap.destinations[self.rules.host.agents]
        return self.open(agents.schedule).open

    def local_date(self) -> date:
        return self.at.astimezone(self.host_zone).date()

    def hear_website(self, municipality_id: str | None, point: WebsitePoint) -> list[str]:
        """The website prompt read out at ``point`` (none or one), noted in the trace and in
        the websites heard."""
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
