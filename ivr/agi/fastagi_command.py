"""``ivr311 fastagi``: the FastAGI server on its own, with the rules ``ivr311 run`` would use;
and `start_fastagi`, which ``ivr311 run`` calls to serve it beside the controller.

The rules come from a `RulesSource` (the store named by ``IVR311_DATABASE_URL``, seeded from
``IVR311_RULES`` when empty), which follows every activation (PostgreSQL LISTEN/NOTIFY or
SQLite polling): a request takes the snapshot active when it arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import uvloop

from ivr.agi.fastagi import DEFAULT_LISTEN, FastAgiServer, Limits
from ivr.controller.command import serve_command, stop_on_signals
from ivr.controller.process import freeze_long_lived_objects
from ivr.controller.rules_source import RulesSource, open_rule_store
from ivr.metrics import Metrics
from ivr.settings import Settings, SettingsError, env_name, parse_listen

LISTEN_ENV = env_name("fastagi_listen")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "fastagi",
        help="serve the AGI routing answer over FastAGI (agi://HOST:PORT) from rules in memory",
        description="Serve ivr311-agi's answer (IVR311_DEST, IVR311_REASON, ...) to "
        "AGI(agi://HOST:PORT) from the active rules, reloaded on every activation. Settings "
        "as for `ivr311 run` (IVR311_* environment variables, --config TOML file).",
    )
    command.add_argument("--config", type=Path, help="TOML settings file")
    command.add_argument(
        "--listen",
        type=_listen,
        help=f"HOST:PORT to listen on (default ${LISTEN_ENV}, else {DEFAULT_LISTEN})",
    )
    command.set_defaults(handler=fastagi_command)


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def fastagi_command(args: argparse.Namespace) -> int:
    """Serve on uvloop's event loop: less CPU per request and shorter waits at p99 than on
    asyncio's own (measured by ``make bench``'s ``fastagi``, README)."""
    return serve_command(
        args, lambda settings: serve_fastagi(settings, args.listen), run=uvloop.run
    )


def fastagi_server(settings: Settings, rules: RulesSource) -> FastAgiServer:
    limits = Limits(
        read_timeout_s=settings.fastagi_read_timeout_s,
        max_sessions=settings.fastagi_max_sessions,
    )
    return FastAgiServer(
        lambda: rules.current,
        dial_endpoint=settings.dial_endpoint,
        limits=limits,
        hash_key=settings.hash_key(),
    )


async def start_fastagi(
    settings: Settings,
    rules: RulesSource,
    listen: str | None = None,
    default: str | None = None,
) -> FastAgiServer | None:
    """The FastAGI server listening on ``listen``, else ``IVR311_FASTAGI_LISTEN``, else
    ``default``; None when none is set. Raises `SettingsError` when it cannot listen there."""
    where = listen or settings.fastagi_listen or default
    if where is None:
        return None
    server = fastagi_server(settings, rules)
    host, port = parse_listen(where)
    try:
        bound = await server.start(host, port)
    except OSError as exc:
        variable = "--listen" if listen else LISTEN_ENV
        raise SettingsError(f"{variable}: cannot listen on {where}: {exc.strerror}") from exc
    print(f"ivr311 fastagi: agi://{host}:{bound}", flush=True)
    return server


async def serve_fastagi(
    settings: Settings,
    listen: str | None = None,
    *,
    stop: asyncio.Event | None = None,
    started: Callable[[FastAgiServer], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop``); ``started(server)`` once it listens."""
    stop = stop_on_signals(stop)

    store = await open_rule_store(settings.database_url)
    rules = RulesSource(store, metrics=Metrics(), seed=settings.rules, poll_s=settings.rules_poll_s)
    server: FastAgiServer | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        await rules.load()
        freeze_long_lived_objects()
        watcher = asyncio.create_task(rules.watch(), name="rules-watch")
        server = await start_fastagi(settings, rules, listen, DEFAULT_LISTEN)
        assert server is not None
        if started is not None:
            started(server)
        await stop.wait()
    finally:
        if server is not None:
            await server.close()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await asyncio.to_thread(store.close)
