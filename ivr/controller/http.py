"""The controller's HTTP server: ``/metrics``, ``/healthz``, ``/readyz`` and room for more.

`make_app` builds the aiohttp application from a `ControllerState`, the small read-only view of
a running controller, behind the boundary of `ivr.controller.http_boundary` (errors as JSON,
the body limit, security headers). Other parts of the product add their routes with an extension
``(app, state) -> None`` passed to `make_app` (the admin API adds itself that way), so this module
does not need to know about them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ivr.controller.http_boundary import (
    CLIENT_FAULTS_ARE_INFO,
    MAX_BODY_BYTES,
    error_boundary,
    security_headers,
)
from ivr.metrics import Metrics
from ivr.settings import Settings
from routing_rules.storage.store import RuleStore


class ControllerState(Protocol):
    """What the HTTP surface (and the admin API) may read from a running controller."""

    @property
    def metrics(self) -> Metrics: ...

    @property
    def settings(self) -> Settings:
        """The controller's settings (admin token: ``settings.admin_token_value()``)."""
        ...

    @property
    def rule_store(self) -> RuleStore | None:
        """The rule store the controller follows (None: fixed rules, no store)."""
        ...

    @property
    def ari_connected(self) -> bool: ...

    @property
    def rules_loaded(self) -> bool: ...

    @property
    def draining(self) -> bool: ...

    @property
    def rules_version(self) -> int | None:
        """The active rule version new calls get (None: not from the store or not loaded)."""
        ...

    def live_calls(self) -> list[Mapping[str, Any]]:
        """One JSON-ready summary per call in progress (call id, state, dialled, rule version)."""
        ...

    def recent_decisions(self, limit: int = 50) -> list[Mapping[str, Any]]:
        """The latest decision records, newest first (the same records the log carries)."""
        ...


STATE_KEY = web.AppKey("ivr311_controller_state", ControllerState)
"""Handlers (the admin API's too) find the state with ``request.app[STATE_KEY]``."""

AppExtension = Callable[[web.Application, ControllerState], None]


def make_app(state: ControllerState, extensions: Sequence[AppExtension] = ()) -> web.Application:
    """The controller's aiohttp application; ``extensions`` add their own routes."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[error_boundary])
    app.on_response_prepare.append(security_headers)
    logging.getLogger("aiohttp.server").addFilter(CLIENT_FAULTS_ARE_INFO)
    app[STATE_KEY] = state
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    for extend in extensions:
        extend(app, state)
    return app


async def _metrics(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = state.metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _healthz(request: web.Request) -> web.Response:
    """Alive: the process and its event loop answer."""
    return web.json_response({"status": "ok"})


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the controller takes new calls, and why not: what ``/readyz`` answers and what
    the node's presence at the SIP proxy follows (`ivr.controller.proxy_presence`)."""

    ari_connected: bool
    rules_loaded: bool
    accepting_calls: bool

    @property
    def ready(self) -> bool:
        return self.ari_connected and self.rules_loaded and self.accepting_calls


def readiness(state: ControllerState) -> Readiness:
    """Ready for calls: ARI connected, rules loaded and not draining."""
    return Readiness(
        ari_connected=state.ari_connected,
        rules_loaded=state.rules_loaded,
        accepting_calls=not state.draining,
    )


async def _readyz(request: web.Request) -> web.Response:
    """Ready for calls (`readiness`), 503 otherwise."""
    state = request.app[STATE_KEY]
    checks = readiness(state)
    return web.json_response(
        {"ready": checks.ready, **asdict(checks), "rules_version": state.rules_version},
        status=200 if checks.ready else 503,
    )


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port``; returns the runner (``await runner.cleanup()`` stops it).

    Port 0 picks a free port; read it back with `bound_port`.
    """
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The TCP port the runner listens on."""
    return int(runner.addresses[0][1])
