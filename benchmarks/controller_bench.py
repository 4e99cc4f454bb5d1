"""Controller benchmark: call set-up against the simulated switch over loopback.

The simulated switch (`switchsim`) runs in a child process of its own, as Asterisk does, so
its CPU time, garbage collection (off there) and event loop are not charged to the controller.
It times each call on its own clock, from emitting StasisStart to receiving the play request of
its greeting (the caller's channel arrives answered, as the generated dialplan answers before
Stasis; a controller that still answered would send that request first).
This process runs only the controller, which logs as in production: JSON at INFO, rendered and
written (to /dev/null).

Before measuring, 100 calls come and go at once, so the controller's HTTP connection pool to
the switch is warm, as it is after recent traffic. Then, for 1, 100 and 1,000 concurrent calls
(Durham demo rules), under ``controller.concurrent_<N>``:

- ``burst``: the N calls arrive at once (StasisStart emitted back to back), ``BURSTS`` times
  (the callers of one burst hang up before the next). ``setups_per_second`` runs from the first
  StasisStart to the last greeting's play request (the median burst);
  ``stasis_start_to_greeting_ms`` is over all those calls, so it is mostly queueing: the last
  of N calls waits for the N - 1 before it on the controller's one event loop.
  ``event_loop_lag_ms`` is how late a 1 ms timer fires in the controller during the bursts;
  ``controller_cpu_ms_per_call`` is the controller's CPU until every greeting plays, and
  ``fake_switch_cpu_ms_per_call`` the switch's over the same calls, for comparison.
- ``steady``: with the N calls in progress (each hearing a long greeting), further callers
  arrive one after another; each is timed from StasisStart to its greeting's play request
  (p50/p99/max) and hangs up once its greeting plays. This is the set-up overhead with N calls
  in progress. The first of them also waits for whatever the burst left queued in the
  controller, so it is reported on its own (``first_call_after_burst_ms``).
  ``event_loop_lag_ms`` is how late a 1 ms timer fires in the controller meanwhile;
  ``controller_cpu_ms_per_call`` is one such call, set-up and tear-down;
  ``log_lines_per_call`` counts what the controller logged per call, by level;
  ``ari_requests_per_call`` and ``ari_events_per_call`` (broken down in
  ``ari_requests_per_call_by_request`` and ``ari_events_per_call_by_type``) what it sent to
  and received from the switch per call.
- ``teardown``: the N callers hang up; ``controller_cpu_ms_per_call`` to end each call (its
  decision record included).
- ``controller_gc``: the controller's garbage collections over all of the above; a full one
  stops every call for ``full_collection_max_ms``, whichever phase it falls in.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import logging
import os
import secrets
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from benchmarks.ari_traffic import ari_traffic_per_call, registry_samples
from ivr.controller.process import Controller, freeze_long_lived_objects
from ivr.controller.rules_source import RulesSource
from ivr.logs import configure_logging
from ivr.metrics import Metrics
from ivr.settings import load_settings
from routing_rules.snapshot import RuleSnapshot, load_snapshot
from switchsim import FakeAri, FakeSwitch

CONCURRENCY = (1, 100, 1000)
CALLING = "9054300123"
WARM_UP_CALLS = 100
"""Calls at once before measuring: first-call imports and caches, and a warm HTTP connection
pool (as after recent traffic; the client keeps up to 100 connections to Asterisk)."""
BURSTS = 5
"""Bursts per concurrency (one burst of 100 calls lasts some 20 ms: one alone is noise)."""
PROBE_CALLS = 500
"""Calls set up one at a time on top of the concurrent ones, to time StasisStart -> greeting."""
ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values_ms, 0.5), 3),
        "p99": round(_percentile(values_ms, 0.99), 3),
        "max": round(max(values_ms, default=0.0), 3),
    }


def _lag_summary(samples_s: list[float]) -> dict[str, float]:
    """p50/p99/max of a lag probe's samples in ms, and how many samples there were."""
    return {**_summary([s * 1000 for s in samples_s]), "samples": len(samples_s)}


# --- the switch's side (child process) -----------------------------------------------------


class _SwitchSide:
    """The simulated switch plus the clock readings the benchmark needs, driven by commands."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch
        self.emitted: dict[str, float] = {}
        self.greeted: dict[str, float] = {}
        """Caller channel -> when its greeting's play request came in."""
        self.live: list[str] = []
        self._progress = asyncio.Event()
        real_play = switch.play

        def play(channel_id: str, playback_id: str, media: Any, lang: str | None) -> dict[str, Any]:
            self.greeted.setdefault(channel_id, time.perf_counter())
            self._progress.set()
            return real_play(channel_id, playback_id, media, lang)

        switch.play = play  # type: ignore[method-assign]

    async def _until(self, channel_ids: Iterable[str], seen: MutableMapping[str, float]) -> None:
        missing = [c for c in channel_ids if c not in seen]
        while missing:
            self._progress.clear()
            await self._progress.wait()
            missing = [c for c in missing if c not in seen]

    def _place(self) -> str:
        channel_id = self.switch.place_call("311", CALLING)
        self.emitted[channel_id] = time.perf_counter()  # StasisStart is queued for the socket
        return channel_id

    async def burst(self, calls: int) -> dict[str, Any]:
        cpu_before = time.process_time()
        placed = []
        for _ in range(calls):
            placed.append(self._place())
            await asyncio.sleep(0)  # the socket writer sends it, as a switch would
        await self._until(placed, self.greeted)
        await asyncio.sleep(0)  # PlaybackStarted goes out
        self.live.extend(placed)
        first = min(self.emitted[c] for c in placed)
        last = max(self.greeted[c] for c in placed)
        return {
            "latencies_ms": [(self.greeted[c] - self.emitted[c]) * 1000 for c in placed],
            "setups_per_second": calls / max(last - first, 1e-9),
            "cpu_s": time.process_time() - cpu_before,
        }

    async def probe(self, calls: int) -> dict[str, Any]:
        latencies_ms = []
        for _ in range(calls):
            channel_id = self._place()
            await self._until([channel_id], self.greeted)
            latencies_ms.append((self.greeted[channel_id] - self.emitted[channel_id]) * 1000)
            self.switch.hangup_caller(channel_id)
        return {"latencies_ms": latencies_ms}

    async def hangup_all(self) -> dict[str, Any]:
        for channel_id in self.live:
            if channel_id in self.switch.channels:
                self.switch.hangup_caller(channel_id)
                await asyncio.sleep(0)
        self.live.clear()
        return {}


async def _serve_switch() -> None:
    """Child process: serve the fake ARI; JSON commands on stdin, JSON answers on stdout.

    The fake keeps every event and request it saw; its garbage collector is off so that its
    pauses (tens of ms once that history is large) do not show in the controller's timings.
    """
    gc.disable()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    side = _SwitchSide(FakeSwitch(playback_s=600.0))
    password = secrets.token_urlsafe(12)
    async with FakeAri(user="bench", password=password, switch=side.switch) as fake:
        print(json.dumps({"url": fake.url, "user": fake.user, "password": password}), flush=True)
        while line := await reader.readline():
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            handler = getattr(side, command["cmd"])
            answer = await handler(**command.get("args", {}))
            print(json.dumps(answer), flush=True)


class _SwitchProcess:
    """The parent's handle on the switch's process."""

    def __init__(self, process: asyncio.subprocess.Process, hello: dict[str, str]) -> None:
        self.process = process
        self.url = hello["url"]
        self.user = hello["user"]
        self.password = hello["password"]

    @classmethod
    async def start(cls) -> _SwitchProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.controller_bench",
            "--serve-switch",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the switch process did not start")
        return cls(process, json.loads(line))

    async def ask(self, cmd: str, timeout_s: float = 300, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"the switch process died during {cmd}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None and self.process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self.process.stdin.write(b'{"cmd": "quit"}\n')
                await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


# --- the controller's side (this process) ----------------------------------------------------


class _LagProbe:
    """Measures how late a 1 ms timer fires: the event loop's responsiveness."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.samples.append(max(0.0, loop.time() - before - 0.001))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class _GcPauses:
    """How long each of the controller's garbage collections stopped everything, by generation."""

    def __init__(self) -> None:
        self.pauses_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> dict[str, float]:
        full = self.pauses_ms[2]
        return {
            "full_collections": len(full),
            "full_collection_max_ms": round(max(full, default=0.0), 3),
            "young_collection_max_ms": round(
                max(self.pauses_ms[0] + self.pauses_ms[1], default=0.0), 3
            ),
        }


class _LogCounter:
    """A structlog processor counting lines by level (it runs after the level filter)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def __call__(self, _logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        self.counts[method] += 1
        return event


@contextlib.contextmanager
def _production_logging(counter: _LogCounter) -> Iterator[None]:
    """JSON at INFO as in production, written to /dev/null; the previous set-up after."""
    previous = structlog.get_config()
    root = logging.getLogger()
    previous_handlers, previous_level = list(root.handlers), root.level
    with open(os.devnull, "w", encoding="utf-8") as devnull, contextlib.redirect_stderr(devnull):
        configure_logging(fmt="json", level="INFO")
        processors = [counter, *structlog.get_config()["processors"]]
        structlog.configure(processors=processors)
        try:
            yield
        finally:
            structlog.configure(**previous)
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in previous_handlers:
                root.addHandler(handler)
            root.setLevel(previous_level)


async def _measure(snapshot: RuleSnapshot, calls: int) -> dict[str, Any]:
    """Bring ``calls`` calls up at once, then time single calls set up on top of them."""
    switch = await _SwitchProcess.start()
    try:
        settings = load_settings(
            environ={},
            http_listen="127.0.0.1:0",
            ari_url=switch.url,
            ari_user=switch.user,
            ari_password=SecretStr(switch.password),
        )
        freeze_long_lived_objects()  # as `ivr311 run` does once the rules are loaded
        metrics = Metrics()
        counter = _LogCounter()
        with _production_logging(counter), _GcPauses() as gc_pauses:
            async with Controller(settings, RulesSource.fixed(snapshot, metrics)) as controller:
                await controller.stream.wait_connected(10)
                await controller.reconciled.wait()
                await switch.ask("burst", calls=WARM_UP_CALLS)
                await switch.ask("hangup_all")
                await asyncio.wait_for(controller.wait_idle(), 60)

                bursts, burst_cpu_s = [], 0.0
                burst_lag = _LagProbe()
                for repeat in range(BURSTS):
                    if repeat:
                        await switch.ask("hangup_all")
                        await asyncio.wait_for(controller.wait_idle(), 300)
                    burst_lag.start()
                    cpu_before = time.process_time()
                    bursts.append(await switch.ask("burst", calls=calls))
                    burst_cpu_s += time.process_time() - cpu_before
                    await burst_lag.stop()

                first_after_burst = await switch.ask("probe", calls=1)
                logged_before = counter.counts.copy()
                traffic_before = registry_samples(metrics.registry)
                probe = _LagProbe()
                probe.start()
                cpu_before = time.process_time()
                steady = await switch.ask("probe", calls=PROBE_CALLS)
                steady_cpu_s = time.process_time() - cpu_before
                await probe.stop()
                logged = counter.counts - logged_before
                traffic = ari_traffic_per_call(
                    traffic_before, registry_samples(metrics.registry), PROBE_CALLS
                )

                cpu_before = time.process_time()
                await switch.ask("hangup_all")
                await asyncio.wait_for(controller.wait_idle(), 300)
                teardown_cpu_s = time.process_time() - cpu_before
    finally:
        await switch.stop()
    return {
        "burst": {
            "what": f"{calls:,} calls arrive at once; set-up times include queueing",
            "setups_per_second": round(
                statistics.median(b["setups_per_second"] for b in bursts), 1
            ),
            "stasis_start_to_greeting_ms": _summary(
                [ms for b in bursts for ms in b["latencies_ms"]]
            ),
            "event_loop_lag_ms": _lag_summary(burst_lag.samples),
            "controller_cpu_ms_per_call": round(burst_cpu_s / (calls * BURSTS) * 1000, 3),
            "fake_switch_cpu_ms_per_call": round(
                sum(b["cpu_s"] for b in bursts) / (calls * BURSTS) * 1000, 3
            ),
        },
        "steady": {
            "what": f"one new call at a time while {calls:,} calls are in progress",
            "first_call_after_burst_ms": round(first_after_burst["latencies_ms"][0], 3),
            "stasis_start_to_greeting_ms": _summary(steady["latencies_ms"]),
            "event_loop_lag_ms": _lag_summary(probe.samples),
            "controller_cpu_ms_per_call": round(steady_cpu_s / PROBE_CALLS * 1000, 3),
            "log_lines_per_call": {
                level: round(n / PROBE_CALLS, 2) for level, n in sorted(logged.items())
            },
            **traffic,
        },
        "teardown": {
            "controller_cpu_ms_per_call": round(teardown_cpu_s / calls * 1000, 3),
        },
        "controller_gc": gc_pauses.summary(),
    }


def run() -> dict[str, object]:
    """Measure set-up with 1, 100 and 1,000 concurrent calls (Durham demo rules).

    Returns the report's top-level ``controller`` section.
    """
    snapshot = load_snapshot("durham")
    report: dict[str, object] = {"bursts": BURSTS, "steady_calls": PROBE_CALLS}
    for calls in CONCURRENCY:
        report[f"concurrent_{calls}"] = asyncio.run(_measure(snapshot, calls))
    return {"controller": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.controller_bench")
    parser.add_argument(
        "--serve-switch", action="store_true", help="(internal) the switch's process"
    )
    args = parser.parse_args(argv)
    if args.serve_switch:
        configure_logging(level="WARNING")
        asyncio.run(_serve_switch())
        return 0
    configure_logging(level="WARNING")
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
