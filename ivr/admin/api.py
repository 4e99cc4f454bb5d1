"""The admin HTTP API and page, added to the controller's aiohttp application.

Reads are open (the server binds to loopback unless configured otherwise); every request that
changes state needs the bearer token, and every change of the rules names who makes it and why,
which the rule store keeps in its history. Errors are JSON ``{"error": CODE, "message": TEXT}``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from geo.coordinates import coordinate_problem
from ivr.admin.auth import check_bearer
from ivr.admin.body import read_body
from ivr.admin.errors import problem
from ivr.admin.mapview import coverage_map_svg
from ivr.admin.openapi import openapi_document
from ivr.admin.override import OverrideChange
from ivr.admin.requests import (
    ActivateBody,
    ApplyBody,
    OverrideBody,
    SimulateBody,
    ValidateBody,
)
from ivr.admin.service import AdminService, NothingActive
from ivr.controller.drain import DrainStatus
from ivr.controller.http import STATE_KEY
from ivr.logs import exception_fields
from ivr.reports import FORMATS, build_report, render
from ivr.reports.build import MEDIA_TYPES
from ivr.reports.figures import DEFAULT_THRESHOLDS_S
from ivr.reports.period import ReportRange, ReportRangeError, parse_thresholds
from ivr.reports.render_html import CONTENT_SECURITY_POLICY
from routing_rules.storage.store import ConflictCause, ConflictError, StoreError, VersionNotFound
from routing_rules.validation import RuleSetInvalid

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

T = TypeVar("T")


class Drainable(Protocol):
    """The drain of a controller (`ivr.controller.process.Controller`)."""

    def start_drain(self) -> object:
        """Start draining, once: a second call leaves the drain as it is."""
        ...

    def drain_status(self) -> DrainStatus: ...


@dataclass(frozen=True)
class AdminConfig:
    """What the admin API needs besides the controller state."""

    service: AdminService
    token: Callable[[], str | None]
    """The admin token, read on every state-changing request (None: changes are refused)."""
    drain: Drainable
    """The controller ``POST /api/drain`` drains (the process stays up once drained)."""


CONFIG_KEY = web.AppKey("ivr311_admin_config", AdminConfig)


def add_admin_routes(app: web.Application, config: AdminConfig) -> None:
    """Install the admin API under ``/api`` and the page at ``/`` on ``app``."""
    app[CONFIG_KEY] = config
    r = app.router
    r.add_get("/", _page)
    r.add_static("/static/", STATIC_DIR, name="admin-static")
    r.add_get("/api/openapi.json", _openapi)
    r.add_get("/api/rules", _rules)
    r.add_post("/api/rules", _apply)
    r.add_post("/api/rules/validate", _validate)
    r.add_get("/api/rules/diff", _diff)
    r.add_get("/api/rules/{version}", _version)
    r.add_post("/api/rules/{version}/activate", _activate)
    r.add_post("/api/simulate", _simulate)
    r.add_get("/api/override", _get_override)
    r.add_post("/api/override", _set_override)
    r.add_get("/api/coverage", _coverage)
    r.add_get("/api/coverage/map.svg", _coverage_map)
    r.add_get("/api/locate", _locate)
    r.add_get("/api/report", _report)
    r.add_get("/api/calls", _calls)
    r.add_get("/api/calls/{call_id}", _call)
    r.add_get("/api/drain", _drain_status)
    r.add_post("/api/drain", _start_drain)


# -- plumbing ---------------------------------------------------------------------------------


def _config(request: web.Request) -> AdminConfig:
    return request.app[CONFIG_KEY]


async def _run(request: web.Request, work: Callable[[AdminService], T]) -> T:
    """Run store work in a thread, turning store errors into JSON HTTP errors."""
    service = _config(request).service
    try:
        return await asyncio.to_thread(work, service)
    except VersionNotFound as exc:
        raise problem(web.HTTPNotFound, "not_found", str(exc)) from exc
    except ConflictError as exc:
        raise problem(
            web.HTTPConflict,
            "conflict",
            _conflict_message(exc),
            base_version=exc.base,
            active_version=exc.active,
        ) from exc
    except NothingActive as exc:
        raise problem(web.HTTPConflict, "nothing_active", str(exc)) from exc
    except RuleSetInvalid as exc:
        raise problem(
            web.HTTPUnprocessableEntity,
            "invalid_rules",
            f"the rule set has {len(exc.report.errors)} error(s); nothing changed",
            errors=[{"path": p.path, "message": p.message} for p in exc.report.errors],
        ) from exc
    except StoreError as exc:
        raise problem(web.HTTPConflict, "refused", str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        log.error("admin.store_failed", path=request.path, **exception_fields(exc))
        raise problem(
            web.HTTPServiceUnavailable,
            "store_unavailable",
            f"the rule store cannot be used right now ({type(exc).__name__}); try again",
        ) from exc


def _conflict_message(exc: ConflictError) -> str:
    started = f"version {exc.base}" if exc.base is not None else "an empty store"
    if exc.active is None:
        return (
            f"conflict: you started from {started} but another change was activated while this "
            "one was saved; merge your change into the active version (GET /api/rules) and send "
            'it again with its number as "base_version"'
        )
    concurrently = " (activated concurrently)" if exc.cause is ConflictCause.CONCURRENT else ""
    return (
        f"conflict: you started from {started} but version {exc.active} is active now"
        f"{concurrently}; merge your change into version {exc.active} "
        f'(GET /api/rules/{exc.active}) and send it again with "base_version": {exc.active}'
    )


def _int_param(value: str | None, name: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: required")
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: not a number") from exc
    if number < 1 or number > 2**62:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: out of range")
    return number


def _float_param(request: web.Request, name: str, low: float, high: float) -> float:
    try:
        value = float(request.query[name])
    except KeyError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: required") from exc
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: not a number") from exc
    if not low <= value <= high:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: out of range")
    return value


def _changed(request: web.Request, action: str, author: str, **details: object) -> None:
    log.info("admin.change", action=action, author=author, peer=request.remote, **details)


def _authorized(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_bearer(request, _config(request).token)
        return await handler(request)

    guarded.__doc__ = handler.__doc__
    return guarded


# -- page and document ------------------------------------------------------------------------


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


# -- rules --------------------------------------------------------------------------------------


async def _rules(request: web.Request) -> web.Response:
    return web.json_response(await _run(request, lambda s: s.rules()))


async def _version(request: web.Request) -> web.Response:
    number = _int_param(request.match_info["version"], "version", required=True)
    assert number is not None
    return web.json_response(await _run(request, lambda s: s.version(number)))


async def _diff(request: web.Request) -> web.Response:
    old = _int_param(request.query.get("old"), "old", required=True)
    new = _int_param(request.query.get("new"), "new")
    assert old is not None
    return web.json_response(await _run(request, lambda s: s.diff(old, new)))


async def _validate(request: web.Request) -> web.Response:
    body = await read_body(request, ValidateBody)
    return web.json_response(await _run(request, lambda s: s.validate(body.content)))


@_authorized
async def _apply(request: web.Request) -> web.Response:
    body = await read_body(request, ApplyBody)
    result = await _run(
        request,
        lambda s: s.apply(
            body.content, author=body.author, comment=body.comment, base_version=body.base_version
        ),
    )
    _changed(request, "apply", body.author, version=result.version, unchanged=result.unchanged)
    return web.json_response(
        {
            "version": result.version,
            "previous_version": result.previous_version,
            "unchanged": result.unchanged,
        },
        status=200 if result.unchanged else 201,
    )


@_authorized
async def _activate(request: web.Request) -> web.Response:
    number = _int_param(request.match_info["version"], "version", required=True)
    assert number is not None
    body = await read_body(request, ActivateBody)
    activation = await _run(
        request,
        lambda s: s.activate(
            number, author=body.author, comment=body.comment, base_version=body.base_version
        ),
    )
    _changed(request, "activate", body.author, version=number)
    return web.json_response(
        {
            "version": activation.version,
            "previous_version": activation.previous_version,
            "action": activation.action,
        }
    )


# -- override ---------------------------------------------------------------------------------


async def _get_override(request: web.Request) -> web.Response:
    schedule = request.query.get("schedule") or None

    def read(s: AdminService) -> dict[str, Any]:
        try:
            return s.override(schedule)
        except KeyError as exc:
            raise problem(web.HTTPNotFound, "not_found", f"no schedule {schedule!r}") from exc

    return web.json_response(await _run(request, read))


@_authorized
async def _set_override(request: web.Request) -> web.Response:
    body = await read_body(request, OverrideBody)
    expires = body.expires
    if body.active:
        if expires is None:
            raise problem(
                web.HTTPUnprocessableEntity,
                "invalid_request",
                "expires: an override that switches calls away needs an expiry",
            )
        if expires.tzinfo is None:
            raise problem(
                web.HTTPUnprocessableEntity,
                "invalid_request",
                "expires: give a UTC offset (e.g. 2026-11-23T08:00:00-05:00)",
            )
        if expires <= _config(request).service.clock():
            raise problem(web.HTTPUnprocessableEntity, "invalid_request", "expires: in the past")
    change = OverrideChange(
        active=body.active,
        reason=body.reason,
        expires=expires if body.active else None,
        destination=body.destination if body.active else None,
    )

    def store(s: AdminService) -> tuple[Any, dict[str, Any]]:
        try:
            return s.set_override(
                change, schedule=body.schedule, author=body.author, base_version=body.base_version
            )
        except KeyError as exc:
            raise problem(
                web.HTTPNotFound, "not_found", f"no schedule {body.schedule!r} in the active rules"
            ) from exc

    result, state = await _run(request, store)
    _changed(request, "override", body.author, active=body.active, version=result.version)
    return web.json_response(
        {"version": result.version, "previous_version": result.previous_version, **state},
        status=200 if result.unchanged else 201,
    )


# -- simulate, coverage, calls ----------------------------------------------------------------


async def _simulate(request: web.Request) -> web.Response:
    body = await read_body(request, SimulateBody)
    if (body.lat is None) != (body.lon is None):
        raise problem(web.HTTPUnprocessableEntity, "invalid_request", "give both lat and lon")
    location = (body.lat, body.lon) if body.lat is not None and body.lon is not None else None
    _check_at(body.at)

    result = await _run(
        request,
        lambda s: s.simulate(
            calling=body.from_,
            dialled=body.to,
            at=body.at,
            press=body.press,
            greeting_key=body.greeting_key,
            location=location,
            language=body.language,
            version=body.version,
            status=body.status,
        ),
    )
    return web.json_response(result, dumps=_dumps)


def _check_at(value: str | None) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise problem(web.HTTPUnprocessableEntity, "invalid_request", f"at: {exc}") from exc


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


async def _locate(request: web.Request) -> web.Response:
    lat = _float_param(request, "lat", -math.inf, math.inf)
    lon = _float_param(request, "lon", -math.inf, math.inf)
    refused = coordinate_problem(lat, lon)
    if refused is not None:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"lat, lon: {refused}")
    at = request.query.get("at") or None
    _check_at(at)
    return web.json_response(await _run(request, lambda s: s.locate(lat, lon, at)), dumps=_dumps)


async def _coverage(request: web.Request) -> web.Response:
    include_all = request.query.get("all", "false").lower() in ("1", "true", "yes")
    return web.json_response(await _run(request, lambda s: s.coverage(include_all)))


async def _coverage_map(request: web.Request) -> web.Response:
    def draw(s: AdminService) -> str:
        snapshot = s.snapshot()
        rules = snapshot.rules
        return coverage_map_svg(
            [m.id for m in rules.municipalities],
            rules.exchanges,
            snapshot.geo.exchanges,
            f"{rules.host.name.en}: municipalities, exchanges and shared zones",
        )

    svg = await _run(request, draw)
    return web.Response(text=svg, content_type="image/svg+xml")


async def _report(request: web.Request) -> web.Response:
    """The call report of ``from``..``to`` (the CLI's ``ivr311 report``) in ``format``."""
    query = request.query
    fmt = query.get("format") or "json"
    try:
        period = ReportRange.parse(
            query.get("from"), query.get("to"), query.get("by"), names=("from", "to", "by")
        )
        if fmt not in FORMATS:
            raise ReportRangeError("format", f"{fmt!r}: give one of {', '.join(FORMATS)}")
        levels = (
            parse_thresholds(query["service_level"], "service_level")
            if query.get("service_level")
            else DEFAULT_THRESHOLDS_S
        )
    except ReportRangeError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", str(exc)) from exc
    text = await _run(request, lambda s: render(build_report(s.store.engine, period, levels), fmt))
    response = web.Response(text=text, content_type=MEDIA_TYPES[fmt], charset="utf-8")
    if fmt == "html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if fmt in ("csv", "html"):
        name = f"ivr311-report-{period.start}-{period.end}.{fmt}"
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


async def _calls(request: web.Request) -> web.Response:
    limit = _int_param(request.query.get("limit"), "limit") or 20
    state = request.app[STATE_KEY]
    live = [dict(call) for call in state.live_calls()]
    await _run(request, lambda s: _add_municipalities(s, live))
    return web.json_response(
        {"calls": live, "recent": list(state.recent_decisions(min(limit, 500)))},
        dumps=_json_default,
    )


def _add_municipalities(service: AdminService, calls: list[dict[str, Any]]) -> None:
    """Name the municipality of each call's destination, from the rule version it runs on
    (none while that version cannot be read: the calls are listed all the same)."""
    for call in calls:
        version, destination = call.get("rules_version"), call.get("destination")
        municipality = None
        if isinstance(version, int) and isinstance(destination, str):
            try:
                owner = service.snapshot(version).destination_owner
            except (StoreError, SQLAlchemyError, OSError):
                owner = {}
            municipality = owner.get(destination)
        call.setdefault("municipality", municipality)


async def _call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    state = request.app[STATE_KEY]
    live = next((c for c in state.live_calls() if c.get("call_id") == call_id), None)
    record = next((d for d in state.recent_decisions(10_000) if d.get("call_id") == call_id), None)
    if live is None and record is None:
        raise problem(web.HTTPNotFound, "not_found", f"no live or recent call {call_id!r}")
    return web.json_response(
        {"call_id": call_id, "live": live, "decision": record}, dumps=_json_default
    )


def _json_default(data: object) -> str:
    return json.dumps(data, default=_plain, ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# -- drain ------------------------------------------------------------------------------------


async def _drain_status(request: web.Request) -> web.Response:
    return web.json_response(_config(request).drain.drain_status().as_json())


@_authorized
async def _start_drain(request: web.Request) -> web.Response:
    """The drain SIGTERM starts, but the process stays up (not ready) once drained."""
    drain = _config(request).drain
    drain.start_drain()
    status = drain.drain_status()
    log.info("admin.change", action="drain", peer=request.remote, calls=status.calls_in_progress)
    return web.json_response(status.as_json(), status=202)
