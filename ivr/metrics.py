"""The controller's Prometheus metrics, in a registry of their own.

Each controller owns one `Metrics` (tests and benchmarks create as many as they like without
clashing in prometheus-client's global registry). Every name starts with ``ivr311_``; the README
section "Metrics" lists them with their meaning.
"""

from __future__ import annotations

from typing import TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

_M = TypeVar("_M", bound=MetricWrapperBase)

ANSWER_TO_PERSON_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)
"""Includes 20 s and 30 s so a service level ("answered within 20 s") can be computed."""

FAST_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class _ChildrenCached(MetricWrapperBase):
    """``labels(...)`` answered from a dictionary once a child exists.

    prometheus-client's ``labels`` converts its arguments to text and looks the child up under
    a lock on every call: some 5 µs, paid at every event, transition and ARI request of every
    call. The children are prometheus-client's own (none is ever removed here); only the look-up
    is kept.
    """

    def labels(self: _M, *labelvalues: object, **labelkwargs: object) -> _M:
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)
        cache: dict[tuple[object, ...], _M] = self.__dict__.setdefault("_children_cached", {})
        child = cache.get(labelvalues)
        if child is None:
            child = cache[labelvalues] = super().labels(*labelvalues)
        return child


class Counter(_ChildrenCached, prometheus_client.Counter):
    pass


class Gauge(_ChildrenCached, prometheus_client.Gauge):
    pass


class Histogram(_ChildrenCached, prometheus_client.Histogram):
    pass


class Metrics:
    """Every metric the controller exports; ``registry`` is what ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls_offered = Counter(
            "ivr311_calls_offered",
            "Inbound calls that reached the controller, by dialled number",
            ["dialled"],
            registry=r,
        )
        self.greeting_skipped = Counter(
            "ivr311_greeting_skipped", "Greetings cut short by a key press", registry=r
        )
        self.zero_outs = Counter(
            "ivr311_zero_outs", "Callers who pressed 0 for a live agent", ["where"], registry=r
        )
        self.language_switches = Counter(
            "ivr311_language_switches",
            "Callers who switched language with the greeting's language key",
            ["language"],
            registry=r,
        )
        self.route_decisions = Counter(
            "ivr311_route_decisions",
            "Routing decisions, by the evidence that decided (location, exchange, caller_choice, "
            "default) and the first destination",
            ["evidence", "target"],
            registry=r,
        )
        self.menu_outcomes = Counter(
            "ivr311_menu_outcomes",
            "Menu prompts answered: choice, agent, invalid, timeout, hangup",
            ["outcome"],
            registry=r,
        )
        self.status_checks = Counter(
            "ivr311_status_checks",
            "Service-request status checks by result: found, not_found, slow, down, "
            "bad_answer, no_number, too_long",
            ["result"],
            registry=r,
        )
        self.transfers = Counter(
            "ivr311_transfers",
            "Transfer attempts by destination and result (answered, busy, no_answer, rejected, "
            "not_accepted, failed, caller_hangup)",
            ["target", "result"],
            registry=r,
        )
        self.fallbacks = Counter(
            "ivr311_fallbacks",
            "Fallbacks used: next_link (a later link of the chain was dialled) or final_message "
            "(every link failed)",
            ["kind"],
            registry=r,
        )
        self.after_hours_calls = Counter(
            "ivr311_after_hours_calls", "Calls that took the after-hours path", registry=r
        )
        self.calls_ended = Counter(
            "ivr311_calls_ended",
            "Calls that left the controller, by outcome",
            ["outcome"],
            registry=r,
        )
        self.calls_abandoned = Counter(
            "ivr311_calls_abandoned",
            "Callers who hung up before reaching a person or a message, by the stage they were "
            "in (answering, greeting, menu, hold, ringing, whisper, awaiting_accept)",
            ["stage"],
            registry=r,
        )
        self.handed_back = Counter(
            "ivr311_calls_handed_back",
            "Calls handed to the dialplan fallback context (draining, reconcile, error)",
            ["reason"],
            registry=r,
        )
        self.hold_music_failures = Counter(
            "ivr311_hold_music_failures",
            "Music on hold that could not start on a caller's channel, by what the "
            "caller heard instead: ringing, or nothing (the ringing request failed too)",
            ["fallback"],
            registry=r,
        )
        self.active_calls = Gauge(
            "ivr311_active_calls", "Calls the controller is handling now", registry=r
        )
        self.ari_connected = Gauge(
            "ivr311_ari_connected", "1 while the ARI event socket is connected", registry=r
        )
        self.reconnects = Counter(
            "ivr311_ari_reconnects", "ARI event socket connections after the first", registry=r
        )
        self.application_replaced = Counter(
            "ivr311_application_replaced",
            "Alarms: another client took this controller's Stasis application",
            registry=r,
        )
        self.ari_requests = Counter(
            "ivr311_ari_requests",
            "ARI REST requests sent (retries included), by HTTP method, path template "
            "(/channels/{id}/play/{playbackId}: ids never appear) and transport (http, or "
            "socket: on the event WebSocket)",
            ["method", "path", "transport"],
            registry=r,
        )
        self.ari_events = Counter(
            "ivr311_ari_events",
            "ARI events received on the event socket, by type",
            ["type"],
            registry=r,
        )
        self.dtmf_dropped = Counter(
            "ivr311_dtmf_dropped", "Key presses dropped because a call's queue was full", registry=r
        )
        self.event_seconds = Histogram(
            "ivr311_event_handling_seconds",
            "Time to handle one ARI event or timer of a call",
            ["event"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "ivr311_decision_seconds",
            "Time the decision engine took for one decision",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.answer_to_person_seconds = Histogram(
            "ivr311_answer_to_person_seconds",
            "From answering the caller to a person answering at the destination",
            ["kind"],
            buckets=ANSWER_TO_PERSON_BUCKETS,
            registry=r,
        )
        self.rules_version = Gauge(
            "ivr311_rules_active_version",
            "Version number of the rule set new calls use (0: not from the store)",
            registry=r,
        )
        self.rules_store_reachable = Gauge(
            "ivr311_rules_store_reachable",
            "1 while the controller follows the rule store (listening, or its last poll "
            "answered); 0 while it cannot reach it: calls go on with the version it holds, "
            "and versions activated meanwhile reach it once the store answers",
            registry=r,
        )
        self.rules_reloads = Counter(
            "ivr311_rules_reloads", "Rule-set reloads, by result", ["result"], registry=r
        )
        self.dialplan_regenerations = Counter(
            "ivr311_dialplan_regenerations",
            "Dialplan files written for a newly active rule version, by result (ok, "
            "write_failed, reload_failed)",
            ["result"],
            registry=r,
        )
        self.call_records_written = Counter(
            "ivr311_call_records_written",
            "Call records written to the store",
            registry=r,
        )
        self.call_records_dropped = Counter(
            "ivr311_call_records_dropped",
            "Call records lost: the store was slow or down and IVR311_CALL_RECORDS_QUEUE "
            "records were waiting already (or were still waiting at shutdown)",
            registry=r,
        )
        self.call_records_write_failures = Counter(
            "ivr311_call_records_write_failures",
            "Batches of call records the store refused or did not answer (retried)",
            registry=r,
        )
        self.call_records_queued = Gauge(
            "ivr311_call_records_queued",
            "Call records waiting in memory to be written",
            registry=r,
        )
        self.call_records_purged = Counter(
            "ivr311_call_records_purged",
            "Call records deleted for being older than IVR311_CALL_RECORDS_RETENTION_DAYS",
            registry=r,
        )

    def count_ari_request(self, method: str, path_template: str, transport: str) -> None:
        """One ARI REST request sent (``ivr311_ari_requests_total``)."""
        self.ari_requests.labels(method, path_template, transport).inc()

    def count_ari_event(self, event_type: str) -> None:
        """One ARI event received (``ivr311_ari_events_total``)."""
        self.ari_events.labels(event_type).inc()

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
