"""What a call's transitions feed: the log line, the decision record and the metrics.

An observer is any callable of one `Transition`; a call runs its environment's observers in
order on every transition, as structlog runs its processors, and nothing else in the call
counts, records or logs the course of a call. Each reads the transition's typed details (the
decision carried out, the link, what happened in the state left, how the call ended), never
its text.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ivr.call.record import DecisionRecord, TransferAttempt, evidence_of
from ivr.call.states import (
    CALLER_HANGUP,
    TRANSFERRING,
    CallState,
    HoldMusicFailed,
    KeyPress,
    StatusChecked,
    Transition,
)
from ivr.metrics import Metrics
from routing_rules.decision import Decision, PlayMessage, Transfer

log = structlog.get_logger(__name__)

Observer = Callable[[Transition], None]


def first_destination(step: Transfer) -> str:
    """The destination a transfer tries first, or ``message`` for an empty chain."""
    return step.chain[0].destination_id if step.chain else "message"


def abandonment_stage(state: CallState) -> str:
    """The ``stage`` label of ``ivr311_calls_abandoned_total`` for a caller who hung up in
    ``state``: answering, greeting, menu, hold, ringing, whisper or awaiting_accept."""
    return str(state).removeprefix("transferring.")


def abandoned_in(t: Transition) -> str | None:
    """The stage a call ending in ``t`` was abandoned in: the caller hung up before reaching
    a person or a message (``None``: not abandoned)."""
    ending = t.ending
    if ending is None or ending.kind != CALLER_HANGUP.kind:
        return None
    if t.source in (CallState.BRIDGED, CallState.MESSAGE):
        return None
    return abandonment_stage(t.source)


def _attempts(t: Transition) -> list[TransferAttempt]:
    return [fact for fact in t.facts if isinstance(fact, TransferAttempt)]


def log_transition(t: Transition) -> None:
    """One INFO line per transition."""
    log.info("call.transition", **{"from": str(t.source)}, to=str(t.target), why=t.why)


def record_transition(t: Transition) -> None:
    """Keep the call's decision record; log it once, when the call ends."""
    call = t.call
    record = call.record
    if t.decision is not None:
        record.note_decision(t.decision)
        if isinstance(t.decision.step, PlayMessage):
            record.kind = record.kind or "message"
    for fact in t.facts:
        if isinstance(fact, TransferAttempt):
            record.attempts.append(fact)
            log.debug("call.transfer_attempt", destination=fact.destination, result=fact.result)
        elif isinstance(fact, KeyPress):
            _note_key(record, fact, call.language)
        elif isinstance(fact, StatusChecked):
            record.status_check = fact.result
    if t.target is CallState.TRANSFER_WHISPER and call.answered_at is not None:
        record.durations["answer_to_person_s"] = round(t.at - call.answered_at, 3)
    elif t.target is CallState.BRIDGED and t.link is not None:
        record.destination = t.link.target.destination_id
    elif t.target is CallState.MESSAGE and t.source in TRANSFERRING and _attempts(t):
        record.destination = None  # every link of the chain failed: nobody was reached
    elif t.target is CallState.ENDED and t.ending is not None:
        record.outcome = str(t.ending)
        record.abandoned_in = abandoned_in(t)
        record.digits = tuple(call.digits)
        record.durations["total_s"] = round(t.at - call.started_at, 3)
        if t.source is CallState.BRIDGED:
            record.durations["bridged_s"] = round(t.at - t.since, 3)
        log.info("call.decision_record", ended_in=str(t.source), **record.as_json())


def _note_key(record: DecisionRecord, key: KeyPress, language: str) -> None:
    if key.where == "greeting":
        record.greeting_skipped = True
    if key.meaning == "language":
        record.language = language
    elif key.meaning == "agent":
        record.zero_out = key.where


class MetricsObserver:
    """The Prometheus metrics of the course of calls (see `ivr.metrics`)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, t: Transition) -> None:
        m = self.metrics
        if t.decision is not None:
            self._decided(t.decision)
        for fact in t.facts:
            if isinstance(fact, TransferAttempt):
                m.transfers.labels(fact.destination, fact.result).inc()
            elif isinstance(fact, KeyPress):
                self._key(t, fact)
            elif isinstance(fact, HoldMusicFailed):
                m.hold_music_failures.labels(fact.fallback).inc()
            elif isinstance(fact, StatusChecked):
                m.status_checks.labels(fact.result).inc()
        if t.target is CallState.TRANSFER_RINGING and t.link is not None and t.link.index > 0:
            m.fallbacks.labels("next_link").inc()
        elif t.target is CallState.TRANSFER_WHISPER and t.link is not None:
            if t.call.answered_at is not None:
                m.answer_to_person_seconds.labels(t.link.kind).observe(t.at - t.call.answered_at)
        elif t.target is CallState.MESSAGE and t.source in TRANSFERRING:
            m.fallbacks.labels("final_message").inc()
        elif t.target is CallState.ENDED and t.ending is not None:
            self._ended(t, t.ending.kind, t.ending.handed_back_for)

    def _decided(self, decision: Decision) -> None:
        m, step = self.metrics, decision.step
        if isinstance(step, Transfer):
            m.route_decisions.labels(evidence_of(decision), first_destination(step)).inc()
            if step.kind == "after_hours":
                m.after_hours_calls.inc()
        elif isinstance(step, PlayMessage) and decision.after_hours:
            m.after_hours_calls.inc()

    def _key(self, t: Transition, key: KeyPress) -> None:
        m = self.metrics
        if key.where == "greeting":
            m.greeting_skipped.inc()
            if key.meaning == "language":
                m.language_switches.labels(t.call.language).inc()
        else:
            m.menu_outcomes.labels(key.meaning).inc()
        if key.meaning == "agent":
            m.zero_outs.labels(key.where).inc()

    def _ended(self, t: Transition, kind: str, handed_back_for: str | None) -> None:
        m = self.metrics
        if handed_back_for is not None:
            m.handed_back.labels(handed_back_for).inc()
        if kind == CALLER_HANGUP.kind and t.source is CallState.MENU:
            m.menu_outcomes.labels("hangup").inc()
        stage = abandoned_in(t)
        if stage is not None:
            m.calls_abandoned.labels(stage).inc()
        m.calls_ended.labels(kind).inc()


def standard_observers(metrics: Metrics) -> tuple[Observer, ...]:
    """The log line, then the decision record (logged at the end), then the metrics."""
    return (log_transition, record_transition, MetricsObserver(metrics))
