"""The settings and the run of a long-running ``ivr311`` command (``run``, ``fastagi``): a
settings problem is one message on stderr and `SettingsError.exit_code`; Ctrl-C ends it with
130."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from ivr.settings import Settings, SettingsError, load_settings


def settings_from_args(args: argparse.Namespace) -> Settings | None:
    """The settings of a command with ``--config``; None (the problems printed) when wrong."""
    try:
        return load_settings(args.config)
    except SettingsError as exc:
        print(f"ivr311: {exc}", file=sys.stderr)
        return None


def serve_command(
    args: argparse.Namespace,
    serve: Callable[[Settings], Coroutine[Any, Any, None]],
    *,
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run,
) -> int:
    """Load the command's settings and run ``serve`` on them (on an event loop of ``run``'s)
    until it returns or Ctrl-C; the command's exit status."""
    settings = settings_from_args(args)
    if settings is None:
        return SettingsError.exit_code
    try:
        run(serve(settings))
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:
        print(f"ivr311: {exc}", file=sys.stderr)
        return SettingsError.exit_code
    return 0


def stop_on_signals(stop: asyncio.Event | None) -> asyncio.Event:
    """``stop`` (a new event when None), set by SIGTERM or SIGINT from now on (where the
    running loop can handle signals)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    return stop
