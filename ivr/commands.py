"""``ivr311 run`` (the controller process) and ``ivr311 demo`` (a scripted tour)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from ivr.controller import Controller, freeze_long_lived_objects
from ivr.fakeari import FakeAri
from ivr.fakeari.traffic import ScriptedCall, describe_call, mixed_calls, run_traffic
from ivr.http import AppExtension, bound_port, make_app, start_server
from ivr.metrics import Metrics
from ivr.rules_source import DATABASE_URL_ENV, RulesSource, startup_error
from ivr.settings import Settings, SettingsError, load_settings
from ivr.simulation import opening_hours_note, simulated_controller

SIMULATED_DRAIN_S = 1.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the ARI call controller (the simulated switch when IVR311_ARI_URL is unset)",
        description="Run the call controller. Settings come from IVR311_* environment "
        "variables and an optional TOML file (--config or IVR311_CONFIG).",
    )
    run.add_argument("--config", type=Path, help="TOML settings file")
    run.set_defaults(handler=run_command)
    demo = subparsers.add_parser(
        "demo",
        help="a scripted tour of calls through the controller on the simulated switch",
    )
    demo.add_argument("--config", type=Path, help="TOML settings file")
    demo.add_argument("--rules", help="demo rule set or YAML file (default: IVR311_RULES)")
    # The tour prints each call's trace itself; its log lines would only repeat them.
    demo.set_defaults(handler=demo_command, default_log_level="WARNING")


def _settings(args: argparse.Namespace) -> Settings | None:
    try:
        return load_settings(args.config)
    except SettingsError as exc:
        print(f"ivr311: {exc}", file=sys.stderr)
        return None


def run_command(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return SettingsError.exit_code
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:
        print(f"ivr311: {exc}", file=sys.stderr)
        return SettingsError.exit_code
    return 0


def demo_command(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return SettingsError.exit_code
    from ivr.demo import run_tour

    return asyncio.run(run_tour(settings, args.rules or settings.rules, out=sys.stdout))


def http_extensions() -> list[AppExtension]:
    """Route providers installed next to the controller: ``ivr.admin.extend_app(app, state)``
    (the admin API) when it is present."""
    try:
        from ivr import admin
    except ImportError:
        return []
    extension: AppExtension | None = getattr(admin, "extend_app", None)
    return [extension] if extension is not None else []


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    started: Callable[[Controller, str], None] | None = None,
    extensions: Sequence[AppExtension] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Run the controller until SIGTERM/SIGINT (or ``stop``), then drain.

    ``started(controller, http_base_url)`` is called once everything listens; ``extensions``
    add HTTP routes (default: `http_extensions`, the admin API when installed). A store or
    rules that cannot be loaded raise `SettingsError` naming the setting. ``clock`` is the
    time calls on the simulated switch are routed at (and said in the banner).
    """
    routes = http_extensions() if extensions is None else list(extensions)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    from routing_rules.storage.store import RuleStore, StoreError

    metrics = Metrics()
    try:
        store = await asyncio.to_thread(RuleStore.open, settings.database_url)
    except StoreError as exc:
        raise SettingsError(f"{DATABASE_URL_ENV}: {exc}") from exc
    except Exception as exc:
        raise startup_error(DATABASE_URL_ENV, exc) from exc
    rules = RulesSource(store, metrics=metrics, seed=settings.rules, poll_s=settings.rules_poll_s)
    try:
        await rules.load()
        freeze_long_lived_objects()
        watcher = asyncio.create_task(rules.watch(), name="rules-watch")
        async with _controller(settings, rules, clock) as (controller, traffic):
            try:
                runner = await start_server(make_app(controller, routes), *settings.listen)
            except OSError as exc:
                raise SettingsError(
                    f"IVR311_HTTP_LISTEN: cannot listen on {settings.http_listen}: {exc.strerror}"
                ) from exc
            host, _ = settings.listen
            base = f"http://{host}:{bound_port(runner)}"
            admin = f", admin page {base}/" if routes else ""
            print(
                f"ivr311 controller: metrics {base}/metrics, health {base}/healthz, "
                f"readiness {base}/readyz{admin}",
                flush=True,
            )
            if started is not None:
                started(controller, base)
            if traffic is not None:
                every = settings.sim_call_interval_s
                print(
                    f"simulated switch: a scripted caller every {every:g} s; Ctrl-C to stop",
                    flush=True,
                )
                if rules.current is not None:
                    print(opening_hours_note(rules.current, clock()), flush=True)
            try:
                await stop.wait()
                if traffic is not None:
                    traffic.cancel()
                # Simulated callers never hang up on their own once their script is stopped.
                await controller.drain(SIMULATED_DRAIN_S if traffic is not None else None)
            finally:
                await runner.cleanup()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    finally:
        await asyncio.to_thread(store.close)


@asynccontextmanager
async def _controller(
    settings: Settings, rules: RulesSource, clock: Callable[[], datetime]
) -> AsyncIterator[tuple[Controller, asyncio.Task[None] | None]]:
    """The controller on Asterisk, or on the simulated switch with scripted callers."""
    if not settings.simulated:
        async with Controller(settings, rules, clock=clock) as controller:
            yield controller, None
        return
    async with simulated_controller(settings, rules, clock=clock) as (fake, controller):
        calls = _scripted_callers(rules)

        printing: set[asyncio.Task[None]] = set()

        def show(record_id: str) -> None:
            task = asyncio.create_task(_print_call(fake, controller, record_id))
            printing.add(task)
            task.add_done_callback(printing.discard)

        traffic = asyncio.create_task(
            run_traffic(
                fake.switch,
                calls,
                interval_s=settings.sim_call_interval_s,
                app=settings.ari_app,
                on_finished=lambda record: show(record.channel_id),
            ),
            name="simulated-callers",
        )
        try:
            yield controller, traffic
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
    return mixed_calls(codes or ["905555"])


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
