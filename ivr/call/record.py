"""The decision record: what one call was decided and how it went, logged once when it ends
and stored for reports (`ivr.records`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from routing_rules.decision import Decision, Evidence, OfferMenu, Transfer


def evidence_of(decision: Decision) -> str:
    """The ``evidence`` label of a routed call: what the engine says settled it."""
    return str(decision.evidence or Evidence.DEFAULT)


@dataclass
class TransferAttempt:
    destination: str
    result: str
    ring_s: float | None = None


@dataclass
class DecisionRecord:
    """One call's decision and outcome (no full calling number: ``caller`` is redacted).

    Besides the route: ``number_kind`` of the number dialled, ``after_hours``,
    ``greeting_skipped``, ``zero_out`` (where 0 was pressed: greeting or menu), ``menu`` (the
    last menu offered, e.g. ``exchange:oshawa``) and ``abandoned_in`` (the stage a caller who
    hung up before reaching a person or a message left in). `ivr.records` stores it.
    """

    call_id: str
    dialled: str
    caller: str
    rules_version: int | None
    rules_hash: str
    started_at: str
    language: str = "en"
    digits: tuple[str, ...] = ()
    evidence: str | None = None
    rule: str | None = None
    kind: str | None = None
    municipality: str | None = None
    destination: str | None = None
    attempts: list[TransferAttempt] = field(default_factory=list)
    outcome: str = "in_progress"
    durations: dict[str, float] = field(default_factory=dict)
    trace: list[dict[str, str]] = field(default_factory=list)
    number_kind: str | None = None
    after_hours: bool = False
    greeting_skipped: bool = False
    zero_out: str | None = None
    menu: str | None = None
    abandoned_in: str | None = None
    status_check: str | None = None
    """How a service-request status check ended (a `StatusResult` value), if one was made."""

    def note_decision(self, decision: Decision) -> None:
        """Keep the latest decision's trace; a transfer or message also fixes the route."""
        self.trace = [
            {"stage": t.stage, "evidence": t.evidence, "rule": t.rule, "result": t.result}
            for t in decision.trace
        ]
        self.number_kind = decision.number_kind
        self.after_hours = self.after_hours or decision.after_hours
        step = decision.step
        if isinstance(step, OfferMenu):
            self.menu = step.menu_id
        if isinstance(step, Transfer):
            self.evidence = evidence_of(decision)
            self.kind = step.kind
            self.municipality = step.municipality_id
            self.destination = step.chain[0].destination_id if step.chain else "message"
            deciding = [t for t in decision.trace if t.stage not in ("transfer",)]
            self.rule = deciding[-1].rule if deciding else None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready copy (built by hand: `dataclasses.asdict` deep-copies every value,
        which costs more than the rest of a call's end)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["digits"] = list(self.digits)
        data["attempts"] = [dict(vars(attempt)) for attempt in self.attempts]
        data["durations"] = dict(self.durations)
        data["trace"] = [dict(step) for step in self.trace]
        return data
