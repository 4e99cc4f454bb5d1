"""Activation propagation across controllers sharing one PostgreSQL rule store (issue 11).

Three nodes (`switchsim.nodes`: each an ``ivr311 run`` process on a simulated switch of its
own, as in production one controller process per node) share a private PostgreSQL server
(`switchsim.postgres`), so the benchmark can stop it without disturbing anything else.

- ``steady``: ``ACTIVATIONS`` new versions, one after another, are applied through node A's
  admin API. Each is timed from the moment A's answer (201: committed and notified) arrives
  until each node's ``/readyz`` shows the version (every node polled every 5 ms, so a figure is
  up to 5 ms late): ``per_node_ms`` (node A hears of its own activation the same way, through
  LISTEN), and ``every_node_ms``, the time until the last node has it. ``apply_ms`` is A's
  answer time.
- ``after_outage``: the server is stopped (``pg_ctl stop -m immediate``, what a crash looks
  like) for ``IVR311_BENCH_PG_OUTAGE_S`` seconds (default 60, issue 11's fault 4) while a
  withheld caller reaches each node in turn (``calls_during_outage``: how many were routed on
  the version held and completed, how many were ``not_routed`` so, and whether every
  ``/readyz`` stayed ready); then it is
  started again and the same ``ACTIVATIONS`` are timed, the first applied as soon as the server
  accepts connections (``first_every_node_ms``: the controllers are then waiting out their
  reconnect backoff).

``every_node_max_ms`` is the worst of both; the target is under 2,000 ms. Without a private
PostgreSQL (no ``initdb``, or root without a ``postgres`` user) the section says why it was
skipped.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from switchsim import FakeSwitch, Outcome
from switchsim.nodes import ControllerNode, controller_nodes, rules_calling, wait_until
from switchsim.postgres import PostgresUnavailable, ThrowawayPostgres

NODES = 3
ACTIVATIONS = 20
OUTAGE_ENV = "IVR311_BENCH_PG_OUTAGE_S"
DEFAULT_OUTAGE_S = 60.0
DEADLINE_S = 60.0
"""Longest wait for one node to show one version before the benchmark gives up."""


def _agents(i: int) -> str:
    """A fictional agents' number (555-0100 to 555-0199) for the ``i``-th version."""
    return f"+190555501{i % 100:02d}"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(p99, 1),
        "max": round(ordered[-1], 1),
    }


async def _seen_after(node: ControllerNode, version: int, since: float) -> float:
    """Milliseconds from ``since`` until ``node`` shows ``version``."""

    async def there() -> bool:
        return await node.rules_version() == version

    await wait_until(there, DEADLINE_S, f"version {version} on {node.name}")
    return _ms(time.perf_counter() - since)


async def _activations(nodes: list[ControllerNode], first: int, count: int) -> dict[str, Any]:
    """Apply ``count`` versions through the first node, timing each until every node has it."""
    origin = nodes[0]
    per_node: dict[str, list[float]] = {node.name: [] for node in nodes}
    every_node: list[float] = []
    apply_ms: list[float] = []
    base = await origin.rules_version()
    for i in range(first, first + count):
        sent = time.perf_counter()
        status, body = await origin.apply(rules_calling(_agents(i)), base_version=base, comment="b")
        answered = time.perf_counter()
        if status != 201:
            raise RuntimeError(f"apply answered {status}: {body}")
        apply_ms.append(_ms(answered - sent))
        base = body["version"]
        seen = await asyncio.gather(*(_seen_after(node, base, answered) for node in nodes))
        for node, ms in zip(nodes, seen, strict=True):
            per_node[node.name].append(ms)
        every_node.append(max(seen))
    return {
        "activations": count,
        "every_node_ms": _summary(every_node),
        "first_every_node_ms": every_node[0],
        "per_node_ms": {name: _summary(values) for name, values in per_node.items()},
        "apply_ms": _summary(apply_ms),
    }


async def _one_call(node: ControllerNode) -> dict[str, Any]:
    """A withheld caller on ``node``; its decision record once the call has ended."""
    call_id = node.switch.place_call("311", "anonymous")
    return await node.ended_call_record(call_id, DEADLINE_S)


async def _calls_through_outage(nodes: list[ControllerNode], outage_s: float) -> dict[str, Any]:
    """Withheld callers, one node after another, until ``outage_s`` has passed."""
    held = await nodes[0].rules_version()
    placed = routed = 0
    ready = True
    started = time.monotonic()
    while time.monotonic() - started < outage_s:
        node = nodes[placed % len(nodes)]
        record = await _one_call(node)
        placed += 1
        routed += record["rules_version"] == held and record["outcome"] == "completed"
        status, _ = await node.readyz()
        ready = ready and status == 200
    return {
        "placed": placed,
        "routed_on_held_version": routed,
        "not_routed": placed - routed,
        "ready_throughout": ready,
    }


def _switch() -> FakeSwitch:
    """Contact centres answer, accept after the whisper and hang up half a second later."""
    return FakeSwitch(
        playback_s=0.02, default_outcome=Outcome(kind="answer", press="1", hangup_after_s=0.5)
    )


async def _measure(server: ThrowawayPostgres, workdir: Path, outage_s: float) -> dict[str, Any]:
    async with controller_nodes(NODES, server.url, workdir, switch=_switch) as nodes:
        steady = await _activations(nodes, 0, ACTIVATIONS)
        await asyncio.to_thread(server.stop)
        calls = await _calls_through_outage(nodes, outage_s)
        await asyncio.to_thread(server.start)
        after = await _activations(nodes, ACTIVATIONS, ACTIVATIONS)
    return {
        "nodes": NODES,
        "poll_ms": 5,
        "steady": steady,
        "after_outage": {"outage_s": outage_s, "calls_during_outage": calls, **after},
        "every_node_max_ms": max(steady["every_node_ms"]["max"], after["every_node_ms"]["max"]),
    }


def run() -> dict[str, object]:
    outage_s = float(os.environ.get(OUTAGE_ENV, DEFAULT_OUTAGE_S))
    try:
        server = ThrowawayPostgres.create()
    except PostgresUnavailable as exc:
        return {"activation_propagation": {"skipped": f"no private PostgreSQL server: {exc}"}}
    with server, tempfile.TemporaryDirectory(prefix="ivr311-ha-bench-") as workdir:
        try:
            server.start()
        except PostgresUnavailable as exc:
            return {"activation_propagation": {"skipped": f"PostgreSQL did not start: {exc}"}}
        result = asyncio.run(_measure(server, Path(workdir), outage_s))
    return {"activation_propagation": result}
