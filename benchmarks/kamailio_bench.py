"""Kamailio in front of real Asterisk nodes (issue 11): what it costs, and how fast calls fail
over when a node dies.

- ``kamailio_cost``: one node (Asterisk and its ``ivr311 run``) takes ``CALLS`` calls from a
  SIPp carrier at ``RATE_PER_S`` a second, each held ``HOLD_MS`` after it is answered (the
  greeting, the transfer to a SIPp contact centre that accepts, the bridged rest), first
  directly (``direct``), then through Kamailio (``through_kamailio``). Each run reports its
  failed calls and the CPU seconds per call of the node (Asterisk + controller) and, through
  Kamailio, of every Kamailio process (psutil, before and after the run).
  ``kamailio_cpu_ratio`` is Kamailio's CPU per call over the node's in the same run (target
  under 0.05); ``node_calls_per_second_per_core`` is 1 / the node's CPU seconds per call when
  called directly: the steady call rate one core of a node carries with such calls, which the
  README's "Running several nodes" turns into a number of nodes.
- ``failover``: two nodes behind Kamailio take calls at ``FAILOVER_RATE_PER_S``; one node's
  Asterisk is killed (SIGKILL) once it has taken ``CALLS_BEFORE_KILL`` calls.
  ``first_new_call_answered_ms``: from the kill to the answer of the first call placed after
  it; ``slowest_new_call_answer_ms``: the longest wait for an answer among the calls placed
  after the kill (a call Kamailio first sent to the dead node waits the node timeout, 1.5 s);
  ``new_calls_failed`` (target 0) and ``calls_lost`` (calls up on the dead node).

Activation propagation across nodes is ``activation_propagation`` (``ha_bench.py``). Without
asterisk, kamailio or sipp the sections say which is missing. The helpers are the real-Asterisk
tests' (``tests/asterisk``), so the benchmark drives the nodes exactly as the fault tests do.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path += [str(TESTS), str(TESTS / "asterisk"), str(TESTS / "kamailio")]

from asterisk_testing import CARRIER_IP as DIRECT_CARRIER_IP  # noqa: E402
from asterisk_testing import open_durham_rules  # noqa: E402
from cluster_testing import Cluster, running_cluster  # noqa: E402
from controller_testing import metric  # noqa: E402
from kamailio_testing import CARRIER_IP as PROXY_CARRIER_IP  # noqa: E402
from load_testing import behind_kamailio, start_answered_load  # noqa: E402
from local_processes import wait_until  # noqa: E402

CALLS = 60
RATE_PER_S = 5
HOLD_MS = 8000
FAILOVER_CALLS = 60
FAILOVER_RATE_PER_S = 10
FAILOVER_HOLD_MS = 3000
CALLS_BEFORE_KILL = 10
CALLER = "9056230142"


def _cpu_seconds(*pids: int) -> dict[int, float]:
    """User + system CPU seconds so far of each process and of every process it started."""
    seconds: dict[int, float] = {}
    for pid in pids:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                seconds[process.pid] = times.user + times.system
    return seconds


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def _load_run(
    cluster: Cluster, work: Path, name: str, *, target: str, local_ip: str, kamailio: int | None
) -> dict[str, Any]:
    """``CALLS`` calls to ``target``; failed calls and CPU per call of the node (and Kamailio)."""
    member = cluster[0]
    assert member.node.process is not None
    node_pids = (member.node.process.pid, member.controller.pid)
    node_before = _cpu_seconds(*node_pids)
    proxy_before = _cpu_seconds(kamailio) if kamailio else {}
    centre, load = start_answered_load(
        work,
        member.node,
        target=target,
        local_ip=local_ip,
        calling=CALLER,
        calls=CALLS,
        rate_per_s=RATE_PER_S,
        hold_ms=HOLD_MS,
        name=name,
        centres_name=f"{name}-centre",
    )
    try:
        load.wait(timeout_s=180)
    finally:
        load.kill()
        centre.kill()
    node_cpu = _spent(node_before, _cpu_seconds(*node_pids))
    outcomes = load.outcomes()
    result: dict[str, Any] = {
        "calls": len(outcomes),
        "failed_calls": sum(1 for outcome in outcomes if not outcome.completed),
        "node_cpu_ms_per_call": round(node_cpu * 1000 / CALLS, 2),
    }
    if kamailio:
        proxy_cpu = _spent(proxy_before, _cpu_seconds(kamailio))
        result["kamailio_cpu_ms_per_call"] = round(proxy_cpu * 1000 / CALLS, 3)
    return result


@contextlib.contextmanager
def _cluster(work: Path, count: int) -> Iterator[Cluster]:
    binary = shutil.which("asterisk")
    assert binary is not None
    rules, snapshot = open_durham_rules(work)
    with running_cluster(binary, work, rules, snapshot, count=count) as cluster:
        yield cluster


def _kamailio_cost(kamailio: str, work: Path) -> dict[str, Any]:
    with _cluster(work, 1) as cluster:
        direct = _load_run(
            cluster,
            work,
            "direct",
            target=cluster[0].sip_address,
            local_ip=DIRECT_CARRIER_IP,
            kamailio=None,
        )
        with behind_kamailio(cluster, kamailio, work / "kamailio") as proxy:
            assert proxy.process is not None
            through = _load_run(
                cluster,
                work,
                "through-kamailio",
                target=proxy.sip,
                local_ip=PROXY_CARRIER_IP,
                kamailio=proxy.process.pid,
            )
    return {
        "calls": CALLS,
        "rate_per_s": RATE_PER_S,
        "hold_ms": HOLD_MS,
        "direct": direct,
        "through_kamailio": through,
        "kamailio_cpu_ratio": round(
            through["kamailio_cpu_ms_per_call"] / through["node_cpu_ms_per_call"], 4
        ),
        "node_calls_per_second_per_core": round(1000 / direct["node_cpu_ms_per_call"], 2),
        "failed_calls": direct["failed_calls"] + through["failed_calls"],
    }


def _failover(kamailio: str, work: Path) -> dict[str, Any]:
    with (
        _cluster(work, 2) as cluster,
        behind_kamailio(cluster, kamailio, work / "kamailio") as proxy,
    ):
        survivor, victim = cluster.members
        centre, load = start_answered_load(
            work,
            survivor.node,
            target=proxy.sip,
            local_ip=PROXY_CARRIER_IP,
            calling=CALLER,
            calls=FAILOVER_CALLS,
            rate_per_s=FAILOVER_RATE_PER_S,
            hold_ms=FAILOVER_HOLD_MS,
        )
        try:
            wait_until(
                lambda: (
                    metric(victim.controller, "ivr311_calls_offered_total", dialled="311")
                    >= CALLS_BEFORE_KILL
                ),
                60,
                "calls on the node about to die",
            )
            killed_at = time.time()
            victim.node.kill()
            load.wait(timeout_s=180)
        finally:
            load.kill()
            centre.kill()
    outcomes = load.outcomes()
    after = [outcome for outcome in outcomes if outcome.started > killed_at]
    answers = [
        (outcome.answered_at, outcome.answered_at - outcome.started)
        for outcome in after
        if outcome.answered_at is not None and outcome.answered_by == survivor.node.sip_port
    ]
    return {
        "calls": len(outcomes),
        "rate_per_s": FAILOVER_RATE_PER_S,
        "calls_placed_after_kill": len(after),
        "new_calls_failed": sum(1 for outcome in after if not outcome.completed),
        "calls_lost": sum(1 for outcome in outcomes if not outcome.completed),
        "first_new_call_answered_ms": (
            round((min(at for at, _ in answers) - killed_at) * 1000, 1) if answers else None
        ),
        "slowest_new_call_answer_ms": (
            round(max(wait for _, wait in answers) * 1000, 1) if answers else None
        ),
    }


def _missing() -> str | None:
    for binary, package in (
        ("asterisk", "asterisk"),
        ("kamailio", "kamailio"),
        ("sipp", "sip-tester"),
    ):
        if shutil.which(binary) is None:
            return f"no {binary} binary (Debian: {package})"
    return None


def run() -> dict[str, object]:
    missing = _missing()
    if missing is not None:
        return {"kamailio_cost": {"skipped": missing}, "failover": {"skipped": missing}}
    kamailio = shutil.which("kamailio")
    assert kamailio is not None
    with tempfile.TemporaryDirectory(prefix="ivr311-kamailio-bench-") as tmp:
        work = Path(tmp)
        (work / "cost").mkdir()
        (work / "failover").mkdir()
        return {
            "kamailio_cost": _kamailio_cost(kamailio, work / "cost"),
            "failover": _failover(kamailio, work / "failover"),
        }
