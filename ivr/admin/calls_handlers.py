"""Admin handlers of calls: the call report, the live and recent calls, and one call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from ivr.admin.errors import problem
from ivr.admin.handling import run_store_work
from ivr.admin.params import int_param
from ivr.admin.service import AdminService
from ivr.controller.http import STATE_KEY
from ivr.reports import FORMATS, build_report, render
from ivr.reports.build import MEDIA_TYPES
from ivr.reports.figures import DEFAULT_THRESHOLDS_S
from ivr.reports.period import ReportRange, ReportRangeError, parse_thresholds
from ivr.reports.render_html import CONTENT_SECURITY_POLICY
from routing_rules.storage.errors import StoreError


async def report(request: web.Request) -> web.Response:
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
    text = await run_store_work(
        request, lambda s: render(build_report(s.store.engine, period, levels), fmt)
    )
    response = web.Response(text=text, content_type=MEDIA_TYPES[fmt], charset="utf-8")
    if fmt == "html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if fmt in ("csv", "html"):
        name = f"ivr311-report-{period.start}-{period.end}.{fmt}"
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


async def calls(request: web.Request) -> web.Response:
    limit = int_param(request.query.get("limit"), "limit") or 20
    state = request.app[STATE_KEY]
    live = [dict(call) for call in state.live_calls()]
    await run_store_work(request, lambda s: _add_municipalities(s, live))
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


async def call(request: web.Request) -> web.Response:
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
