"""``ivr311 drain``: ask a running controller to drain through its admin API, and watch it.

The controller (`ivr.controller.process.Controller.drain`, the drain SIGTERM starts) takes no new
call from then on and lets the calls in progress finish; unlike SIGTERM it stays up once drained,
not ready, until it is stopped. The controller's address and the admin token come from the
settings of ``ivr311 run`` (``IVR311_HTTP_LISTEN``, ``IVR311_ADMIN_TOKEN`` or
``IVR311_ADMIN_TOKEN_FILE``, the TOML file of ``--config`` or ``IVR311_CONFIG``), unless
``--url`` and ``--token-file`` say otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path
from typing import Any, TypeGuard

import aiohttp
from yarl import URL

from ivr.controller.command import settings_from_args
from ivr.settings import Settings, SettingsError, env_name
from routing_rules.cli_output import EXIT_INVALID, EXIT_OK, EXIT_REFUSED, fail

POLL_S = 0.5
"""How often ``--wait`` asks how many calls are left."""
REQUEST_TIMEOUT_S = 10.0

ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
"""A server listening on every address is reached on the loopback one."""


class DrainFailed(Exception):
    """The controller could not be asked, or refused; the message says why, naming its URL."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drain = subparsers.add_parser(
        "drain",
        help="drain a running controller: new calls go elsewhere, calls in progress finish",
        description="Ask a running controller (ivr311 run) to drain: from now on it hands new "
        "calls to the fallback context and says not ready on /readyz, and lets the calls in "
        "progress finish within IVR311_DRAIN_TIMEOUT_S. It stays up once drained: stop it "
        "then. Exit status: 0 draining (with --wait: drained), 1 refused, unreachable or "
        "calls still in progress after --timeout, 2 invalid arguments or settings.",
    )
    drain.add_argument(
        "--url",
        help="the controller's HTTP server (default: http:// and IVR311_HTTP_LISTEN)",
    )
    drain.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file holding the admin token (default: IVR311_ADMIN_TOKEN or "
        "IVR311_ADMIN_TOKEN_FILE)",
    )
    drain.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML settings file, as for ivr311 run"
    )
    drain.add_argument(
        "--wait",
        action="store_true",
        help="show the calls left, one line per change, until none is left",
    )
    drain.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="with --wait: stop waiting after SECONDS (exit 1; the drain goes on)",
    )
    drain.set_defaults(handler=drain_command)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def drain_command(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.wait:
        return fail("--timeout counts the wait: give --wait too", EXIT_INVALID)
    settings = settings_from_args(args)
    if settings is None:
        return SettingsError.exit_code
    try:
        base = str(_base_url(args.url, settings))
    except SettingsError as exc:
        return fail(str(exc), EXIT_INVALID)
    token = _token(args.token_file, settings)
    if not token:
        return fail(
            f"no admin token: give --token-file FILE, or set {env_name('admin_token')} or "
            f"{env_name('admin_token_file')}",
            EXIT_INVALID,
        )
    try:
        return asyncio.run(_drain(base, token, wait=args.wait, timeout_s=args.timeout))
    except DrainFailed as exc:
        return fail(str(exc), EXIT_REFUSED)


def _token(path: Path | None, settings: Settings) -> str | None:
    """The token in ``--token-file``, else the one ``ivr311 run`` reads (its settings)."""
    if path is not None:
        return path.read_text(encoding="utf-8").strip() or None
    return settings.admin_token_value()


def _base_url(given: str | None, settings: Settings) -> URL:
    """``--url``, else the loopback address of ``IVR311_HTTP_LISTEN``."""
    if given is not None:
        url = URL(given.strip().rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise SettingsError(f"--url: expected http://HOST:PORT, got {given!r}")
        return url
    host, port = settings.listen
    if port == 0:
        raise SettingsError(
            f"{env_name('http_listen')}: port 0 is chosen at start; give --url with the port "
            "the controller printed"
        )
    return URL.build(scheme="http", host=ANY_ADDRESS.get(host, host), port=port)


async def _drain(base: str, token: str, *, wait: bool, timeout_s: float | None) -> int:
    loop = asyncio.get_running_loop()
    deadline = None if timeout_s is None else loop.time() + timeout_s
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        status = await _ask(http, "POST", base, token)
        print(f"{base}: draining, {_calls(status)} in progress", flush=True)
        if not wait:
            return EXIT_OK
        left = status["calls_in_progress"]
        while not status["drained"]:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return fail(
                    f"{base}: {_calls(status)} still in progress after {timeout_s:g} s "
                    "(the drain goes on)"
                )
            await asyncio.sleep(POLL_S if remaining is None else min(POLL_S, remaining))
            status = await _ask(http, "GET", base, token)
            if status["calls_in_progress"] != left:
                left = status["calls_in_progress"]
                print(f"{base}: {_calls(status)} in progress", flush=True)
    print(f"{base}: drained; the controller takes no calls and can be stopped", flush=True)
    return EXIT_OK


def _calls(status: dict[str, Any]) -> str:
    count = status["calls_in_progress"]
    return f"{count} call{'' if count == 1 else 's'}"


async def _ask(http: aiohttp.ClientSession, method: str, base: str, token: str) -> dict[str, Any]:
    """``POST`` or ``GET /api/drain``: the drain status, or `DrainFailed` saying why not."""
    url = f"{base}/api/drain"
    try:
        async with http.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
        ) as response:
            text = await response.text(errors="replace")
            code = response.status
    except aiohttp.ClientConnectorError as exc:
        error = exc.os_error
        reason = (
            "connection refused (is ivr311 run listening there?)"
            if isinstance(error, ConnectionRefusedError)
            else error.strerror or str(error) or type(error).__name__
        )
        raise DrainFailed(f"cannot reach the controller at {base}: {reason}") from exc
    except TimeoutError as exc:
        raise DrainFailed(
            f"the controller at {base} did not answer within {REQUEST_TIMEOUT_S:g} s"
        ) from exc
    except aiohttp.ClientError as exc:
        raise DrainFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if code not in (200, 202):
        message = body.get("message") if isinstance(body, dict) else None
        raise DrainFailed(f"{url}: {message or 'refused'} (HTTP {code})")
    if not _is_status(body):
        raise DrainFailed(f"{url}: not an ivr311 controller's answer")
    return body


def _is_status(body: object) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(body, dict)
        and isinstance(body.get("draining"), bool)
        and isinstance(body.get("drained"), bool)
        and isinstance(body.get("calls_in_progress"), int)
    )
