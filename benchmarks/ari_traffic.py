"""ARI traffic per call, from two readings of the controller's metrics: the requests
(``ivr311_ari_requests_total``) and events (``ivr311_ari_events_total``) each call cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _per_call(
    before: Samples, after: Samples, name: str, key: Callable[[dict[str, str]], str], calls: int
) -> dict[str, Any]:
    """The growth of counter ``name`` per call, in all and by ``key`` of its labels."""
    by_key: dict[str, float] = {}
    for (sample, labels), value in after.items():
        if sample == name:
            grew = value - before.get((sample, labels), 0.0)
            if grew:
                label = key(dict(labels))
                by_key[label] = by_key.get(label, 0.0) + grew
    return {
        "total": round(sum(by_key.values()) / calls, 2),
        "by": {k: round(v / calls, 2) for k, v in sorted(by_key.items(), key=lambda kv: -kv[1])},
    }


def ari_traffic_per_call(before: Samples, after: Samples, calls: int) -> dict[str, Any]:
    """ARI requests and events per offered call (``ivr311_ari_requests_total``,
    ``ivr311_ari_events_total``)."""
    requests = _per_call(
        before,
        after,
        "ivr311_ari_requests_total",
        lambda labels: f"{labels['method']} {labels['path']} ({labels['transport']})",
        calls,
    )
    events = _per_call(
        before, after, "ivr311_ari_events_total", lambda labels: labels["type"], calls
    )
    return {
        "ari_requests_per_call": requests["total"],
        "ari_requests_per_call_by_request": requests["by"],
        "ari_events_per_call": events["total"],
        "ari_events_per_call_by_type": events["by"],
    }


def registry_samples(registry: CollectorRegistry) -> Samples:
    """Every sample of ``registry`` by (name, labels), as `ari_traffic_per_call` reads them."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
    }
