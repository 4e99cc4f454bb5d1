"""``ivr311 run``: the controller process, its HTTP server, its rules and its drain.

With no Asterisk configured (``IVR311_ARI_URL`` unset) it runs against the simulated switch the
composition root passes in (`ivr311.cli` passes `switchsim`'s); the product itself does not
depend on the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from ivr.agi.fastagi import FastAgiServer
from ivr.agi.fastagi_command import start_fastagi
from ivr.controller.command import serve_command, stop_on_signals
from ivr.controller.http import AppExtension, bound_port, make_app, readiness, start_server
from ivr.controller.process import Controller, freeze_long_lived_objects
from ivr.controller.proxy_presence import ProxyPresence
from ivr.controller.rules_source import RulesSource, open_rule_store
from ivr.metrics import Metrics
from ivr.settings import Settings, SettingsError

Clock = Callable[[], datetime]

SimulatedSwitch = Callable[[Settings, RulesSource, Clock], AbstractAsyncContextManager[Controller]]
"""``(settings, rules, clock)`` → a running controller connected to a simulated switch (and
whatever callers it places), for ``ivr311 run`` with no Asterisk configured. Its controller's
own settings say how long the drain at the end lasts."""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    simulated: SimulatedSwitch | None = None,
) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the ARI call controller (the simulated switch when IVR311_ARI_URL is unset)",
        description="Run the call controller. Settings come from IVR311_* environment "
        "variables and an optional TOML file (--config or IVR311_CONFIG).",
    )
    run.add_argument("--config", type=Path, help="TOML settings file")
    run.set_defaults(handler=lambda args: run_command(args, simulated))


def run_command(args: argparse.Namespace, simulated: SimulatedSwitch | None = None) -> int:
    """Serve on uvloop's event loop (its sockets, timers and callbacks in C): on a real
    Asterisk, once a call came down to a few messages, about a tenth less of the controller's
    CPU per call than on asyncio's own (README, ``make bench``'s ``asterisk_load``)."""
    return serve_command(
        args, lambda settings: serve(settings, simulated=simulated), run=uvloop.run
    )


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
    clock: Clock = lambda: datetime.now(UTC),
    simulated: SimulatedSwitch | None = None,
) -> None:
    """Run the controller until SIGTERM/SIGINT (or ``stop``), then drain: the drain
    ``POST /api/drain`` started, when there was one, goes on as it is (once it is over, the
    process stops at once).

    ``started(controller, http_base_url)`` is called once everything listens; ``extensions``
    add HTTP routes (default: `http_extensions`, the admin API when installed). A store or
    rules that cannot be loaded raise `SettingsError` naming the setting. With no Asterisk
    configured the controller runs on ``simulated``; ``clock`` is the time its calls are routed
    at.
    """
    if settings.simulated and simulated is None:
        raise SettingsError("IVR311_ARI_URL: not set, and no simulated switch is installed")
    routes = http_extensions() if extensions is None else list(extensions)
    stop = stop_on_signals(stop)

    metrics = Metrics()
    store = await open_rule_store(settings.database_url)
    rules = RulesSource(store, metrics=metrics, seed=settings.rules, poll_s=settings.rules_poll_s)
    fastagi: FastAgiServer | None = None
    try:
        await rules.load()
        fastagi = await start_fastagi(settings, rules)  # when IVR311_FASTAGI_LISTEN is set
        freeze_long_lived_objects()
        watcher = asyncio.create_task(rules.watch(), name="rules-watch")
        async with _controller(settings, rules, clock, simulated) as controller:
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
            presence = _proxy_presence(settings, controller)
            if presence is not None:
                await presence.start()
            if started is not None:
                started(controller, base)
            try:
                await stop.wait()
                if presence is not None:
                    await presence.withdraw()
                await controller.drain()
            finally:
                if presence is not None:
                    await presence.close()
                await runner.cleanup()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    finally:
        if fastagi is not None:
            await fastagi.close()
        await asyncio.to_thread(store.close)


def _proxy_presence(settings: Settings, controller: Controller) -> ProxyPresence | None:
    """The node's presence at Kamailio (IVR311_PROXY_RPC_URL), None when no proxy is set."""
    if settings.proxy_rpc_url is None or settings.proxy_node is None:
        return None
    return ProxyPresence(
        settings.proxy_rpc_url, settings.proxy_node, lambda: readiness(controller).ready
    )


@asynccontextmanager
async def _controller(
    settings: Settings, rules: RulesSource, clock: Clock, simulated: SimulatedSwitch | None
) -> AsyncIterator[Controller]:
    """The controller on Asterisk, or on the simulated switch when none is configured."""
    if not settings.simulated:
        async with Controller(settings, rules, clock=clock) as controller:
            yield controller
        return
    assert simulated is not None
    async with simulated(settings, rules, clock) as controller:
        yield controller
