"""Controller benchmark: call set-up against the simulated switch on loopback.

With 1, 100 and 1,000 calls in progress (all arriving at once: ``burst_setups_per_second``),
it sets up further calls one at a time and reports the time from StasisStart (the switch
emitting it) to the controller's answer request reaching the switch (p50/p99) and the event-loop
lag meanwhile, plus the CPU time per call of the burst. The fake switch runs in the same
process, so the CPU figure includes the switch's share.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ivr.fakeari import FakeSwitch
from ivr.metrics import Metrics
from ivr.rules_source import RulesSource
from ivr.settings import load_settings
from ivr.simulation import simulated_controller
from routing_rules.snapshot import RuleSnapshot, load_snapshot

CONCURRENCY = (1, 100, 1000)
CALLING = "9054300123"
PROBE_CALLS = 50
"""Calls set up one at a time on top of the concurrent ones, to time StasisStart -> answer."""


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


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


async def _measure(snapshot: RuleSnapshot, calls: int) -> dict[str, Any]:
    """Bring ``calls`` calls up at once, then time single calls set up on top of them."""
    switch = FakeSwitch(playback_s=600.0)
    answered: dict[str, float] = {}
    answer_seen = asyncio.Event()
    real_answer = switch.answer

    def answer(channel_id: str) -> None:
        answered.setdefault(channel_id, time.perf_counter())
        answer_seen.set()
        real_answer(channel_id)

    switch.answer = answer  # type: ignore[method-assign]

    async def answered_all(channel_ids: list[str]) -> None:
        while not all(c in answered for c in channel_ids):
            answer_seen.clear()
            await answer_seen.wait()

    settings = load_settings(environ={}, http_listen="127.0.0.1:0")
    metrics = Metrics()
    async with simulated_controller(
        settings, RulesSource.fixed(snapshot, metrics), switch=switch
    ) as (_, controller):
        warm_up = switch.place_call("311", CALLING)  # first-call imports and caches
        await asyncio.wait_for(answered_all([warm_up]), 60)
        switch.hangup_caller(warm_up)
        await asyncio.wait_for(controller.wait_idle(), 60)

        cpu_before = time.process_time()
        started = time.perf_counter()
        burst = [switch.place_call("311", CALLING) for _ in range(calls)]
        await asyncio.wait_for(answered_all(burst), 300)
        burst_s = time.perf_counter() - started
        await switch.wait_for(lambda: all(switch.record(c).plays for c in burst), 300)
        cpu_per_call = (time.process_time() - cpu_before) / calls

        probe = _LagProbe()
        probe.start()
        latencies_ms: list[float] = []
        for _ in range(PROBE_CALLS):
            placed_at = time.perf_counter()
            channel_id = switch.place_call("311", CALLING)
            await asyncio.wait_for(answered_all([channel_id]), 60)
            latencies_ms.append((answered[channel_id] - placed_at) * 1000)
            burst.append(channel_id)
        await probe.stop()
        for channel_id in burst:
            switch.hangup_caller(channel_id)
        await asyncio.wait_for(controller.wait_idle(), 300)
    lag_ms = [s * 1000 for s in probe.samples]
    return {
        "burst_setups_per_second": round(calls / burst_s, 1),
        "stasis_start_to_answer_ms": {
            "p50": round(_percentile(latencies_ms, 0.5), 3),
            "p99": round(_percentile(latencies_ms, 0.99), 3),
        },
        "event_loop_lag_ms": {
            "p50": round(_percentile(lag_ms, 0.5), 3),
            "p99": round(_percentile(lag_ms, 0.99), 3),
            "max": round(max(lag_ms, default=0.0), 3),
        },
        "cpu_ms_per_call_incl_fake_switch": round(cpu_per_call * 1000, 3),
    }


def run() -> dict[str, object]:
    """Measure set-up with 1, 100 and 1,000 concurrent calls (Durham demo rules)."""
    snapshot = load_snapshot("durham")
    report: dict[str, object] = {}
    for calls in CONCURRENCY:
        report[f"concurrent_{calls}"] = asyncio.run(_measure(snapshot, calls))
    return {"controller": report}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
