"""The admin HTTP API and page, added to the controller's aiohttp application.

Reads are open (the server binds to loopback unless configured otherwise); every request that
changes state needs the bearer token, and every change of the rules names who makes it and why,
which the rule store keeps in its history. Errors are JSON ``{"error": CODE, "message": TEXT}``.

This module holds the route table, the page, the OpenAPI document and the drain; the handlers
of each resource are in `ivr.admin.rules_handlers` (versions, override),
`ivr.admin.lookup_handlers` (simulate, locate, coverage) and `ivr.admin.calls_handlers`
(report, calls), and what they share is in `ivr.admin.handling` and `ivr.admin.params`.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from aiohttp import web

from ivr.admin import calls_handlers, lookup_handlers, rules_handlers
from ivr.admin.handling import CONFIG_KEY, AdminConfig, admin_config, authorized
from ivr.admin.openapi import openapi_document

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def add_admin_routes(app: web.Application, config: AdminConfig) -> None:
    """Install the admin API under ``/api`` and the page at ``/`` on ``app``."""
    app[CONFIG_KEY] = config
    r = app.router
    r.add_get("/", _page)
    r.add_static("/static/", STATIC_DIR, name="admin-static")
    r.add_get("/api/openapi.json", _openapi)
    r.add_get("/api/rules", rules_handlers.rules)
    r.add_post("/api/rules", rules_handlers.apply)
    r.add_post("/api/rules/validate", rules_handlers.validate)
    r.add_get("/api/rules/diff", rules_handlers.diff)
    r.add_get("/api/rules/{version}", rules_handlers.version)
    r.add_post("/api/rules/{version}/activate", rules_handlers.activate)
    r.add_post("/api/simulate", lookup_handlers.simulate)
    r.add_get("/api/override", rules_handlers.get_override)
    r.add_post("/api/override", rules_handlers.set_override)
    r.add_get("/api/coverage", lookup_handlers.coverage)
    r.add_get("/api/coverage/map.svg", lookup_handlers.coverage_map)
    r.add_get("/api/locate", lookup_handlers.locate)
    r.add_get("/api/report", calls_handlers.report)
    r.add_get("/api/calls", calls_handlers.calls)
    r.add_get("/api/calls/{call_id}", calls_handlers.call)
    r.add_get("/api/drain", _drain_status)
    r.add_post("/api/drain", _start_drain)


# -- page and document ------------------------------------------------------------------------


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


# -- drain ------------------------------------------------------------------------------------


async def _drain_status(request: web.Request) -> web.Response:
    return web.json_response(admin_config(request).drain.drain_status().as_json())


@authorized
async def _start_drain(request: web.Request) -> web.Response:
    """The drain SIGTERM starts, but the process stays up (not ready) once drained."""
    drain = admin_config(request).drain
    drain.start_drain()
    status = drain.drain_status()
    log.info("admin.change", action="drain", peer=request.remote, calls=status.calls_in_progress)
    return web.json_response(status.as_json(), status=202)
