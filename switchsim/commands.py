"""``ivr311 demo``, and the simulated switch ``ivr311 run`` uses when no Asterisk is configured.

`ivr311.cli` registers the demo and passes `scripted_switch` to ``ivr311 run``: a controller
on the simulated switch with a scripted caller every ``IVR311_SIM_CALL_INTERVAL_S``, each
call's trace printed when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from ivr.controller.command import settings_from_args
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.settings import Settings, SettingsError
from switchsim.georeport import DEMO_REQUESTS, GeoReportServer
from switchsim.server import FakeAri
from switchsim.simulation import opening_hours_note, simulated_controller
from switchsim.traffic import ScriptedCall, describe_call, mixed_calls, run_traffic

SIMULATED_DRAIN_S = 1.0
"""How long calls in progress may finish when ``ivr311 run`` stops: simulated callers never hang
up on their own once their script is stopped."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="a scripted tour of calls through the controller on the simulated switch",
    )
    demo.add_argument("--config", type=Path, help="TOML settings file")
    demo.add_argument("--rules", help="demo rule set or YAML file (default: IVR311_RULES)")
    # The tour prints each call's trace itself; its log lines would only repeat them.
    demo.set_defaults(handler=demo_command, default_log_level="WARNING")


def demo_command(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings is None:
        return SettingsError.exit_code
    from switchsim.demo import run_tour

    return asyncio.run(run_tour(settings, args.rules or settings.rules, out=sys.stdout))


@asynccontextmanager
async def scripted_switch(
    settings: Settings, rules: RulesSource, clock: Callable[[], datetime]
) -> AsyncIterator[Controller]:
    """A controller on the simulated switch, with scripted callers until the block ends."""
    quick_drain = settings.model_copy(update={"drain_timeout_s": SIMULATED_DRAIN_S})
    async with (
        demo_status_servers(rules),
        simulated_controller(quick_drain, rules, clock=clock) as (fake, controller),
    ):
        printing: set[asyncio.Task[None]] = set()

        def show(record_id: str) -> None:
            task = asyncio.create_task(_print_call(fake, controller, record_id))
            printing.add(task)
            task.add_done_callback(printing.discard)

        traffic = asyncio.create_task(
            run_traffic(
                fake.switch,
                _scripted_callers(rules),
                interval_s=settings.sim_call_interval_s,
                app=settings.ari_app,
                on_finished=lambda record: show(record.channel_id),
            ),
            name="simulated-callers",
        )
        every = settings.sim_call_interval_s
        print(f"simulated switch: a scripted caller every {every:g} s; Ctrl-C to stop", flush=True)
        if rules.current is not None:
            print(opening_hours_note(rules.current, clock()), flush=True)
        try:
            yield controller
        finally:
            traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic


def _scripted_callers(rules: RulesSource) -> list[ScriptedCall]:
    snapshot = rules.current
    if snapshot is None:
        return [ScriptedCall("9055550123")]
    by_exchange = snapshot.geo.npa_nxx_by_exchange()
    codes = [by_exchange[e][0] for e in snapshot.rules.exchanges if by_exchange.get(e)]
    callers = mixed_calls(codes or ["905555"])
    host_check = snapshot.rules.host.open311
    if host_check is not None:
        # A caller who asks for the status of a demo request, then leaves.
        keys = ((1.0, host_check.key), (3.0, DEMO_REQUESTS[1]["service_request_id"] + "#"))
        callers.append(ScriptedCall(f"{(codes or ['905555'])[0]}0177", keys=keys))
    return callers


@asynccontextmanager
async def demo_status_servers(rules: RulesSource) -> AsyncIterator[None]:
    """A GeoReport v2 server (`switchsim.georeport`) at every loopback Open311 address the
    rules name, holding the demo requests; a port already taken is left to whoever has it."""
    servers: list[GeoReportServer] = []
    snapshot = rules.current
    offers = snapshot.rules.status_checks().values() if snapshot is not None else ()
    try:
        for service in offers:
            url = service.base_url
            if url.host != "127.0.0.1" or url.port is None:
                continue
            server = GeoReportServer(port=url.port, prefix=(url.path or "").rstrip("/"))
            try:
                servers.append(await server.start())
            except OSError as exc:
                print(f"Open311 demo server on port {url.port} not started: {exc}", flush=True)
                continue
            print(f"Open311 GeoReport v2 demo server: {server.base_url}", flush=True)
        yield
    finally:
        for server in servers:
            await server.stop()


async def _print_call(fake: FakeAri, controller: Controller, call_id: str) -> None:
    call = controller.calls.get(call_id)
    if call is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.ended.wait(), 10)
    line = describe_call(fake.switch, fake.switch.record(call_id))
    trace = next((d for d in controller.recent_decisions(100) if d["call_id"] == call_id), None)
    print(f"call {call_id}: {line}", flush=True)
    if trace is not None:
        for step in trace["trace"]:
            print(f"    {step['stage']}: {step['evidence']} → {step['result']}", flush=True)
        print(f"    outcome {trace['outcome']}, destination {trace['destination']}", flush=True)
