"""FastAGI benchmark: ``ivr311 fastagi`` against the per-call ``ivr311-agi``, same rules.

The server runs as ``ivr311 fastagi`` in a process of its own (logging JSON at INFO, written to
/dev/null, as in production), its rules the Durham demo seeded into a fresh SQLite store. The
clients play Asterisk over loopback from processes of their own (never the server's, nor one
another's event loop, so a client's own work is not counted as the server's latency): each
connects, sends an AGI environment (each request its own number, from each exchange the
Durham rules serve in turn, so that the server decides again for each NPA-NXX every minute;
``AGI(agi://...,311)``) and answers each ``SET VARIABLE`` with ``200 result=1``. A request is
timed from the connect to the server's close, after the last variable. Under ``fastagi``:

- ``concurrent_200``: 200 AGI sessions open on the server at once for the whole phase: 199
  slow clients in one process (an environment line every ``HELD_LINE_INTERVAL_S`` for
  ``HELD_REQUEST_S``, then the rest of it and the replies, and again), and in another process
  one request after another at ``STEADY_RATE_PER_S`` (blocking sockets, no event loop; each
  timed, ``STEADY_REQUESTS`` of them): the latency of an answer while the server holds 200
  sessions. ``server_cpu_ms_per_request`` is the server's CPU over the phase per answered
  request (the slow clients' included); ``machine_load_1m`` the machine's load average as the
  phase began (a p99 on a machine whose cores are all busy measures the wait for a core).
- ``burst_200``: 200 requests at once (connect and environment back to back) from
  ``BURST_PROCESSES`` processes, ``BURSTS`` times. ``requests_per_second`` runs from the first
  connect to the last close (the median burst); ``request_ms`` is over all those requests, so
  it is mostly queueing: the last of 200 waits for the 199 before it on the server's one event
  loop.

Under ``per_call_agi``: ``ivr311-agi --database`` (the same store) as Asterisk runs it, a process
per call, ``AGI_RUNS`` times one after another: ``request_ms`` and ``requests_per_second`` (one at
a time). ``fastagi_speedup`` divides the rates (burst vs one at a time, the per-call AGI's best
case) and ``p99_ratio`` the p99 latencies (per-call AGI / FastAGI ``concurrent_200``). The
machine may be shared: the figures are for comparing within one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import psutil

from ivr.agi.script import CHANNEL_VARIABLES

SESSIONS = 200
BURSTS = 5
BURST_PROCESSES = 2
WARM_UP_REQUESTS = 200
STEADY_REQUESTS = 1000
STEADY_RATE_PER_S = 200.0
HELD_LINE_INTERVAL_S = 0.5
HELD_REQUEST_S = 3.0
AGI_RUNS = 30
VARIABLES = len(CHANNEL_VARIABLES)
"""Commands per answer (the ``IVR311_*`` variables)."""
CLIENT_TIMEOUT_S = 120.0
_CALLS = itertools.count()
_SPAWN = multiprocessing.get_context("spawn")


def caller_codes() -> tuple[str, ...]:
    """The NPA-NXX codes of the exchanges the Durham rules serve (callers come from all)."""
    from routing_rules.snapshot import load_snapshot

    snapshot = load_snapshot("durham")
    by_exchange = snapshot.geo.npa_nxx_by_exchange()
    return tuple(code for exchange in snapshot.rules.exchanges for code in by_exchange[exchange])


def environment(codes: Sequence[str]) -> bytes:
    """What Asterisk sends for ``AGI(agi://...,311)``, from a number of its own (no answer
    reuses another's parsed calling number) of one of ``codes`` in turn."""
    n = next(_CALLS)
    calling = f"{codes[n % len(codes)]}{n // len(codes) % 10_000:04d}"
    return (
        "agi_network: yes\nagi_network_script: \nagi_request: agi://127.0.0.1\n"
        "agi_channel: PJSIP/carrier-00000001\nagi_language: en\nagi_type: PJSIP\n"
        f"agi_callerid: {calling}\nagi_calleridname: unknown\nagi_context: custom-ivr311\n"
        "agi_extension: s\nagi_priority: 2\nagi_dnid: 311\nagi_arg_1: 311\n\n"
    ).encode()


OK = b"200 result=1\n"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values_ms, 0.5), 3),
        "p99": round(_percentile(values_ms, 0.99), 3),
        "max": round(max(values_ms), 3),
    }


def _checked(commands: int) -> None:
    if commands != VARIABLES:
        raise RuntimeError(f"expected {VARIABLES} variables, got {commands}")


def _blocking_request(port: int, codes: Sequence[str]) -> float:
    """One AGI request on a blocking socket; its duration in ms."""
    payload = environment(codes)
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(payload)
        commands = 0
        with sock.makefile("rb") as stream:
            while stream.readline():
                commands += 1
                sock.sendall(OK)
    elapsed = (time.perf_counter() - started) * 1000
    _checked(commands)
    return elapsed


def _steady_client(port: int, codes: Sequence[str], ready: Event, results: Any) -> None:
    """One request after another at `STEADY_RATE_PER_S` once ``ready`` (the 199 slow
    sessions are open): their durations in ms, to ``results``."""
    for _ in range(WARM_UP_REQUESTS):
        _blocking_request(port, codes)
    ready.wait(CLIENT_TIMEOUT_S)
    timings: list[float] = []
    started = time.perf_counter()
    for n in range(STEADY_REQUESTS):
        time.sleep(max(0.0, started + n / STEADY_RATE_PER_S - time.perf_counter()))
        timings.append(_blocking_request(port, codes))
    results.put(timings)


async def _request(port: int, codes: Sequence[str]) -> tuple[float, float]:
    """One AGI request on the event loop: when it started and ended (perf_counter, seconds;
    the same clock in every process)."""
    payload = environment(codes)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        commands = 0
        while await reader.readline():
            commands += 1
            writer.write(OK)
        _checked(commands)
        return started, time.perf_counter()
    finally:
        writer.close()


async def _held_session(
    port: int, codes: Sequence[str], stop: Event, opened: asyncio.Queue[None], share: float
) -> int:
    """A slow client, until ``stop``: each request sends its environment a line every
    `HELD_LINE_INTERVAL_S` for `HELD_REQUEST_S` (within the server's read timeout), then ends
    it and answers the commands; another request follows at once. The first request lasts
    ``share`` of that, so that the slow clients do not all finish at once. Requests answered."""
    answered = 0
    first = True
    duration = HELD_REQUEST_S * share
    while not stop.is_set():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"agi_network: yes\n")
            if first:
                await opened.put(None)
                first = False
            deadline = time.perf_counter() + duration
            duration = HELD_REQUEST_S
            while not stop.is_set() and time.perf_counter() < deadline:
                await asyncio.sleep(HELD_LINE_INTERVAL_S)
                writer.write(b"agi_channel: PJSIP/carrier-00000001\n")
            writer.write(environment(codes))
            while await reader.readline():
                writer.write(OK)
            answered += 1
        finally:
            writer.close()
    return answered


async def _hold(port: int, codes: Sequence[str], count: int, opened_all: Event, stop: Event) -> int:
    opened: asyncio.Queue[None] = asyncio.Queue()
    held = [
        asyncio.create_task(_held_session(port, codes, stop, opened, (n + 1) / count))
        for n in range(count)
    ]
    for _ in held:
        await opened.get()
    opened_all.set()
    return sum(await asyncio.gather(*held))


def _slow_clients(
    port: int, codes: Sequence[str], count: int, opened_all: Event, stop: Event, results: Any
) -> None:
    """``count`` slow sessions kept open until ``stop``; the requests they had answered, to
    ``results``."""
    results.put(asyncio.run(_hold(port, codes, count, opened_all, stop)))


async def _bursts(
    port: int, codes: Sequence[str], share: int, start: Barrier
) -> list[list[tuple[float, float]]]:
    for _ in range(WARM_UP_REQUESTS // 20):
        await asyncio.gather(*(_request(port, codes) for _ in range(20)))
    bursts: list[list[tuple[float, float]]] = []
    for _ in range(BURSTS):
        await asyncio.to_thread(start.wait, CLIENT_TIMEOUT_S)
        bursts.append(list(await asyncio.gather(*(_request(port, codes) for _ in range(share)))))
    return bursts


def _burst_client(
    port: int, codes: Sequence[str], share: int, start: Barrier, results: Any
) -> None:
    """``share`` of each burst's requests at once, each burst started with the other burst
    clients; (start, end) of each request of each burst, to ``results``."""
    results.put(asyncio.run(_bursts(port, codes, share, start)))


def _run_clients(processes: list[multiprocessing.process.BaseProcess], results: Any) -> list[Any]:
    """Start the client processes, and their results once each has given one."""
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=CLIENT_TIMEOUT_S * 2) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def _concurrent(port: int, codes: Sequence[str], server: psutil.Process) -> dict[str, Any]:
    results = _SPAWN.Queue()
    opened_all, stop = _SPAWN.Event(), _SPAWN.Event()
    slow = SESSIONS - 1
    holder = _SPAWN.Process(
        target=_slow_clients, args=(port, codes, slow, opened_all, stop, results)
    )
    holder.start()
    try:
        if not opened_all.wait(CLIENT_TIMEOUT_S):
            raise RuntimeError(f"the {slow} slow sessions did not all open in {CLIENT_TIMEOUT_S} s")
        load = os.getloadavg()[0]
        cpu_before = sum(server.cpu_times()[:2])
        steady_results = _SPAWN.Queue()
        steady = _SPAWN.Process(
            target=_steady_client, args=(port, codes, opened_all, steady_results)
        )
        (timings,) = _run_clients([steady], steady_results)
        cpu = sum(server.cpu_times()[:2]) - cpu_before
    finally:
        stop.set()
    held_answered = results.get(timeout=CLIENT_TIMEOUT_S)
    holder.join(timeout=30)
    return {
        "sessions_open": SESSIONS,
        "client_processes": 2,
        "requests": STEADY_REQUESTS,
        "offered_per_second": STEADY_RATE_PER_S,
        "request_ms": _summary(timings),
        "held_requests_answered": held_answered,
        "machine_load_1m": round(load, 2),
        "server_cpu_ms_per_request": round(
            cpu * 1000 / (STEADY_REQUESTS + WARM_UP_REQUESTS + held_answered), 3
        ),
    }


def _burst(port: int, codes: Sequence[str]) -> dict[str, Any]:
    results = _SPAWN.Queue()
    start = _SPAWN.Barrier(BURST_PROCESSES)
    share = SESSIONS // BURST_PROCESSES
    clients = [
        _SPAWN.Process(target=_burst_client, args=(port, codes, share, start, results))
        for _ in range(BURST_PROCESSES)
    ]
    per_client = _run_clients(clients, results)
    rates: list[float] = []
    request_ms: list[float] = []
    for burst in zip(*per_client, strict=True):
        spans = [span for client_burst in burst for span in client_burst]
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        rates.append(len(spans) / (last - first))
        request_ms += [(e - s) * 1000 for s, e in spans]
    return {
        "bursts": BURSTS,
        "client_processes": BURST_PROCESSES,
        "requests_per_second": round(statistics.median(rates), 1),
        "request_ms": _summary(request_ms),
    }


def _fastagi(port: int, codes: Sequence[str], server: psutil.Process) -> dict[str, Any]:
    return {"concurrent_200": _concurrent(port, codes, server), "burst_200": _burst(port, codes)}


def _per_call_agi(database_url: str, codes: Sequence[str]) -> dict[str, Any]:
    agi = Path(sys.executable).with_name("ivr311-agi")
    command = [str(agi), "311", "--database", database_url]
    warm_up = environment(codes) + OK * VARIABLES  # the cached index and validated rules
    subprocess.run(command, input=warm_up, capture_output=True, check=True)
    runs: list[float] = []
    for _ in range(AGI_RUNS):
        stdin = environment(codes) + OK * VARIABLES
        started = time.perf_counter()
        done = subprocess.run(command, input=stdin, capture_output=True, check=True)
        runs.append((time.perf_counter() - started) * 1000)
        if done.stdout.count(b"SET VARIABLE") != VARIABLES:
            raise RuntimeError(f"ivr311-agi did not answer: {done.stderr.decode()[-500:]}")
    return {
        "runs": AGI_RUNS,
        "requests_per_second": round(1000 / statistics.mean(runs), 2),
        "request_ms": _summary(runs),
    }


@contextlib.contextmanager
def _server(work: Path, database_url: str) -> Iterator[tuple[int, psutil.Process]]:
    """``ivr311 fastagi`` on a free port, once it listens; stopped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env |= {
        "IVR311_DATABASE_URL": database_url,
        "IVR311_LOG_FORMAT": "json",
        "IVR311_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "ivr311.cli", "fastagi", "--listen", "127.0.0.1:0"]
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=devnull
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if "agi://" not in line:
            raise RuntimeError(f"ivr311 fastagi did not start (exit {process.wait(timeout=30)})")
        yield int(line.rsplit(":", 1)[1]), psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run() -> dict[str, object]:
    """Measure the FastAGI server and the per-call AGI (Durham demo rules, one store).

    Returns the report's top-level ``fastagi`` and ``per_call_agi`` sections.
    """
    codes = caller_codes()
    with tempfile.TemporaryDirectory(prefix="ivr311-fastagi-bench-") as tmp:
        work = Path(tmp)
        database_url = f"sqlite:///{work / 'rules.db'}"
        with _server(work, database_url) as (port, server):
            fastagi = _fastagi(port, codes, server)
        per_call = _per_call_agi(database_url, codes)
    fastagi["fastagi_speedup"] = round(
        fastagi["burst_200"]["requests_per_second"] / per_call["requests_per_second"], 1
    )
    fastagi["p99_ratio"] = round(
        per_call["request_ms"]["p99"] / fastagi["concurrent_200"]["request_ms"]["p99"], 1
    )
    return {"fastagi": fastagi, "per_call_agi": per_call}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
