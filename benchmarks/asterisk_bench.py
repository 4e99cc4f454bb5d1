"""The cost of a call on a real Asterisk: SIPp callers at rising rates through three flows.

One Asterisk 22 on loopback, rendered from the Durham rules open around the clock; SIPp plays
the carrier (inside-exchange callers from Bowmanville, each with a calling number of its own)
and the contact centre (rings, answers, sends the accept key as an RFC 4733 event
``ACCEPT_AFTER_MS`` after answering, waits for the hang-up). Each caller hears the greeting
and the announcement, waits with music while the centre rings, is connected once the centre
has heard the whisper and pressed the accept key, and hangs up ``stay`` seconds after being
answered. The flows, one after the other in the same run:

- ``controller``: ``ivr311 run`` on the node's ARI (311 enters Stasis), handing each
  transfer to the generated dialplan (``IVR311_TRANSFERS=dialplan``);
- ``controller_requests_over_http``: the same, every ARI request over HTTP
  (``IVR311_ARI_REQUESTS=http``) instead of on the event socket;
- ``controller_ari_transfers``: the same as ``controller``, carrying the transfers out over
  ARI (``IVR311_TRANSFERS=application``);
- ``plain_dialplan``: the same audible flow in plain dialplan (``fixtures/plain_flow.conf``:
  the same prompts, music while ringing, whisper and accept key through ``Dial(...,U())``),
  with no controller running;
- ``fallback``: the project's controller-free fallback (``ivr311 dialplan render``'s
  ``ivr311-fallback``), with no controller running.

For each rate: calls offered, calls that reached the centre, failed calls (offered calls that
did not both reach the centre and end with the caller's own hang-up), Asterisk's and the
controller's CPU per offered call (utime+stime of their processes before and after), and the
time from the caller's answer to the centre's answer (p50, p99; from SIPp's message traces,
matched by calling number). For the controller flow, also the ARI traffic per offered call,
from the controller's ``/metrics`` before and after the rate: ``ari_requests_per_call`` and
``ari_events_per_call``, with the breakdowns ``ari_requests_per_call_by_request``
(``POST /channels/{id}/play/{playbackId}``...) and ``ari_events_per_call_by_type``. A flow
stops at its first rate with a failed call; its ``max_clean_cps`` is the highest rate before
that. The figures are for comparing the flows within one run (ratios): the machine may be
shared.

Once the controller flow's rates are done, ``caller_leaves_in_greeting`` runs its highest clean
rate again with callers hanging up ``GREETING_LEAVER_STAY_S`` after the answer, in the
greeting: the fewest messages a call can bring the controller (its StasisStart, the greeting's
play request and PlaybackFinished, the hang-up), so its ``controller_cpu_ms_per_call`` is the
floor of what a call costs the controller, beside the ``controller_cpu_ms_per_call`` target.

Skipped, with the reason in the report, without an ``asterisk`` or ``sipp`` binary.
IVR311_BENCH_ASTERISK_RATES (e.g. ``5,10``), IVR311_BENCH_ASTERISK_SECONDS (seconds of calls
per rate) and IVR311_BENCH_ASTERISK_STAY_S (seconds a caller stays) make quicker runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "asterisk"), str(HERE.parent / "tests")]

from asterisk_testing import (  # noqa: E402
    AsteriskNode,
    new_node,
    open_durham_rules,
)
from controller_testing import ControllerProcess, start_controller  # noqa: E402
from local_processes import free_port, wait_until  # noqa: E402
from sipp_testing import (  # noqa: E402
    CARRIER_IP,
    SCENARIOS,
    SippParty,
    sipp,
    start_contact_centres,
    start_sipp,
)
from sipp_trace import trace_messages  # noqa: E402

from benchmarks.ari_traffic import ari_traffic_per_call  # noqa: E402

RATES_ENV = "IVR311_BENCH_ASTERISK_RATES"
SECONDS_ENV = "IVR311_BENCH_ASTERISK_SECONDS"
STAY_ENV = "IVR311_BENCH_ASTERISK_STAY_S"
DEFAULT_RATES = (5, 10, 15, 20, 25, 30)
DEFAULT_SECONDS = 20
DEFAULT_STAY_S = 25
ACCEPT_AFTER_MS = 1500
RING_MS = 500
PLAIN_FLOW = HERE / "fixtures" / "plain_flow.conf"
SERVICES = {
    "controller": "311",
    "controller_requests_over_http": "311",
    "controller_ari_transfers": "311",
    "plain_dialplan": "3110",
    "fallback": "3112",
}
CONTROLLER_FLOWS = {
    "controller": {"IVR311_TRANSFERS": "dialplan"},
    "controller_requests_over_http": {
        "IVR311_TRANSFERS": "dialplan",
        "IVR311_ARI_REQUESTS": "http",
    },
    "controller_ari_transfers": {"IVR311_TRANSFERS": "application"},
}
GREETING_LEAVER_STAY_S = 5
"""How long a caller of ``caller_leaves_in_greeting`` stays: less than the greeting."""
FIRST_NUMBER = 9056230000
"""Bowmanville (905-623): Clarington, served by Service Durham's agents."""


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answers(
    caller: SippParty, centre: SippParty
) -> tuple[dict[str, float], set[str], dict[str, float]]:
    """Per calling number: when Asterisk answered the caller; the callers who hung up
    themselves at the end of their stay; when the centre answered."""
    answered: dict[str, float] = {}
    hung_up: set[str] = set()
    for m in trace_messages(caller.trace()):
        if not m.sent and m.is_answer_to("INVITE"):
            answered.setdefault(m.calling_number, m.at)
        elif m.sent and m.text.startswith("BYE "):
            hung_up.add(m.calling_number)
    centre_answered: dict[str, float] = {}
    for m in trace_messages(centre.trace()):
        if m.sent and m.is_answer_to("INVITE"):
            centre_answered.setdefault(m.calling_number, m.at)
    return answered, hung_up, centre_answered


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _channels(node: AsteriskNode) -> int:
    text = node.cli("core show channels count")
    for line in text.splitlines():
        if "active channel" in line:
            return int(line.split()[0])
    return 0


@dataclass
class Flow:
    name: str
    node: AsteriskNode
    work: Path
    controller: ControllerProcess | None
    first: int = FIRST_NUMBER

    def rate(self, cps: int, seconds: int, stay_s: int) -> dict[str, Any]:
        calls = cps * seconds
        work = self.work / f"{self.name}-{cps}cps-{stay_s}s"
        work.mkdir()
        numbers = work / "callers.csv"
        numbers.write_text(
            "SEQUENTIAL\n" + "".join(f"{self.first + n}\n" for n in range(calls)),
            encoding="utf-8",
        )
        self.first += calls
        scenario = work / "caller.xml"
        scenario.write_text(
            (SCENARIOS / "carrier_call.xml").read_text().replace("[caller]", "[field0]"),
            encoding="utf-8",
        )
        deadline_s = seconds + stay_s + 90
        pids = [self.node.process.pid] + ([self.controller.pid] if self.controller else [])
        metrics_before = self.controller.metrics() if self.controller else {}
        cpu_before = [_cpu_s(pid) for pid in pids]
        centre = start_contact_centres(
            self.node,
            work,
            calls=calls,
            steps=(ACCEPT_AFTER_MS, "1"),
            ring_ms=RING_MS,
            timeout_s=deadline_s + 30,
        )
        try:
            caller = start_sipp(
                work,
                "callers",
                scenario,
                local_ip=CARRIER_IP,
                local_port=free_port(),
                remote=f"127.0.0.1:{self.node.sip_port}",
                extra=[
                    "-s",
                    SERVICES[self.name],
                    "-inf",
                    str(numbers),
                    "-d",
                    str(stay_s * 1000),
                    "-r",
                    str(cps),
                    "-l",
                    str(calls),
                ],
                calls=calls,
                timeout_s=deadline_s,
            )
            try:
                caller.wait(timeout_s=deadline_s + 30)
            finally:
                caller.kill()
            wait_until(lambda: _channels(self.node) == 0, 60, "the calls to end")
        finally:
            centre.kill()
        cpu = [_cpu_s(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        answered, hung_up, centre_answered = _answers(caller, centre)
        reached = set(centre_answered)
        good = reached & hung_up
        waits = [(centre_answered[n] - answered[n]) * 1000 for n in good if n in answered]
        result: dict[str, Any] = {
            "cps": cps,
            "calls_offered": calls,
            "calls_reached_centre": len(reached),
            "failed_calls": calls - len(good),
            "asterisk_cpu_ms_per_call": round(cpu[0] * 1000 / calls, 2),
            "answer_to_person_ms": {
                "p50": _round(_percentile(waits, 0.5)),
                "p99": _round(_percentile(waits, 0.99)),
            },
        }
        if self.controller is not None:
            result["controller_cpu_ms_per_call"] = round(cpu[1] * 1000 / calls, 2)
            result.update(ari_traffic_per_call(metrics_before, self.controller.metrics(), calls))
        result["cpu_ms_per_call"] = round(sum(cpu) * 1000 / calls, 2)
        return result

    def leaving_in_greeting(self, cps: int, seconds: int) -> dict[str, Any]:
        """A rate whose callers hang up in the greeting: what such a call costs."""
        print(f"  {self.name}, callers leaving in the greeting ...", file=sys.stderr, flush=True)
        run = self.rate(cps, seconds, GREETING_LEAVER_STAY_S)
        kept = ("cps", "calls_offered", "asterisk_cpu_ms_per_call", "controller_cpu_ms_per_call")
        return {
            "caller_stays_s": GREETING_LEAVER_STAY_S,
            **{key: run[key] for key in kept},
            **{key: value for key, value in run.items() if key.startswith("ari_")},
        }

    def sweep(self, rates: list[int], seconds: int, stay_s: int) -> dict[str, Any]:
        runs: list[dict[str, Any]] = []
        clean: dict[str, Any] | None = None
        for cps in rates:
            print(f"  {self.name} at {cps} calls/s ...", file=sys.stderr, flush=True)
            run = self.rate(cps, seconds, stay_s)
            runs.append(run)
            if run["failed_calls"]:
                break
            clean = run
        return {
            "max_clean_cps": clean["cps"] if clean else 0,
            "at_max_clean": clean,
            "rates": runs,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


@contextmanager
def _node(binary: str, work: Path) -> Iterator[tuple[AsteriskNode, Path]]:
    rules, snapshot = open_durham_rules(work)
    node = new_node(binary, work / "asterisk")
    node.render(snapshot)
    etc = node.root / "etc"
    shutil.copy(PLAIN_FLOW, etc / "bench-plain-flow.conf")
    with (etc / "extensions.conf").open("a", encoding="utf-8") as conf:
        conf.write('\n#include "bench-plain-flow.conf"\n')
    node.start()
    try:
        yield node, rules
    finally:
        node.stop()


def _settings() -> tuple[list[int], int, int]:
    rates = os.environ.get(RATES_ENV, "")
    chosen = [int(r) for r in rates.split(",") if r.strip()] or list(DEFAULT_RATES)
    seconds = int(os.environ.get(SECONDS_ENV, DEFAULT_SECONDS))
    stay_s = int(os.environ.get(STAY_ENV, DEFAULT_STAY_S))
    return chosen, seconds, stay_s


def _measure(binary: str, work: Path) -> dict[str, Any]:
    rates, seconds, stay_s = _settings()
    report: dict[str, Any] = {
        "rates_cps": rates,
        "seconds_per_rate": seconds,
        "caller_stays_s": stay_s,
        "machine_cpus": os.cpu_count(),
        "note": "compare flows within this run (ratios); the machine may be shared",
    }
    with _node(binary, work) as (node, rules):
        for name, settings in CONTROLLER_FLOWS.items():
            controller = start_controller(node, work, rules, settings, name=name)
            try:
                flow = Flow(name, node, work, controller)
                report[name] = flow.sweep(rates, seconds, stay_s)
                if name == "controller":
                    cps = report[name]["max_clean_cps"] or rates[0]
                    report[name]["caller_leaves_in_greeting"] = flow.leaving_in_greeting(
                        cps, seconds
                    )
            finally:
                controller.stop()
        for name in ("plain_dialplan", "fallback"):
            report[name] = Flow(name, node, work, None).sweep(rates, seconds, stay_s)
    ctl, plain = report["controller"], report["plain_dialplan"]
    ratios: dict[str, Any] = {
        "controller_vs_plain_cps": _ratio(ctl["max_clean_cps"], plain["max_clean_cps"]),
        "fallback_vs_plain_cps": _ratio(
            report["fallback"]["max_clean_cps"], plain["max_clean_cps"]
        ),
    }
    # CPU and waits compared at the highest rate both flows carried cleanly
    common = [
        (c, p)
        for c, p in zip(ctl["rates"], plain["rates"], strict=False)
        if not c["failed_calls"] and not p["failed_calls"]
    ]
    if common:
        c, p = common[-1]
        ratios["compared_at_cps"] = c["cps"]
        ratios["controller_vs_plain_cpu_per_call"] = _ratio(
            c["cpu_ms_per_call"], p["cpu_ms_per_call"]
        )
        ratios["controller_cpu_ms_per_call"] = c["controller_cpu_ms_per_call"]
        c50, p50 = c["answer_to_person_ms"]["p50"], p["answer_to_person_ms"]["p50"]
        ratios["answer_to_person_p50_extra_ms"] = (
            round(c50 - p50, 1) if c50 is not None and p50 is not None else None
        )
    for name in CONTROLLER_FLOWS.keys() - {"controller"}:
        other = report[name]["at_max_clean"]
        if common and other is not None and other["cps"] == common[-1][0]["cps"]:
            ratios[f"{name}_vs_plain_cpu_per_call"] = _ratio(
                other["cpu_ms_per_call"], common[-1][1]["cpu_ms_per_call"]
            )
            ratios[f"{name}_cpu_ms_per_call"] = other["controller_cpu_ms_per_call"]
    report["ratios"] = ratios
    return report


def run() -> dict[str, object]:
    binary = shutil.which("asterisk")
    if binary is None:
        return {"asterisk_load": {"skipped": "no asterisk binary"}}
    if sipp() is None:
        return {"asterisk_load": {"skipped": "no sipp binary (Debian: sip-tester)"}}
    with tempfile.TemporaryDirectory(prefix="ivr311-asterisk-bench-") as workdir:
        return {"asterisk_load": _measure(binary, Path(workdir))}
