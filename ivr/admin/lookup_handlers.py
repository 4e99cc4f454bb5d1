"""Admin handlers that ask the rules without changing them: a simulated call, the place of a
caller, and the coverage of municipalities and exchanges (with its map)."""

from __future__ import annotations

import json
import math

from aiohttp import web

from geo.coordinates import coordinate_problem
from ivr.admin.body import read_body
from ivr.admin.errors import problem
from ivr.admin.handling import run_store_work
from ivr.admin.mapview import coverage_map_svg
from ivr.admin.params import check_at, float_param
from ivr.admin.requests import SimulateBody
from ivr.admin.service import AdminService


async def simulate(request: web.Request) -> web.Response:
    body = await read_body(request, SimulateBody)
    if (body.lat is None) != (body.lon is None):
        raise problem(web.HTTPUnprocessableEntity, "invalid_request", "give both lat and lon")
    location = (body.lat, body.lon) if body.lat is not None and body.lon is not None else None
    check_at(body.at)

    result = await run_store_work(
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


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


async def locate(request: web.Request) -> web.Response:
    lat = float_param(request, "lat", -math.inf, math.inf)
    lon = float_param(request, "lon", -math.inf, math.inf)
    refused = coordinate_problem(lat, lon)
    if refused is not None:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"lat, lon: {refused}")
    at = request.query.get("at") or None
    check_at(at)
    return web.json_response(
        await run_store_work(request, lambda s: s.locate(lat, lon, at)), dumps=_dumps
    )


async def coverage(request: web.Request) -> web.Response:
    include_all = request.query.get("all", "false").lower() in ("1", "true", "yes")
    return web.json_response(await run_store_work(request, lambda s: s.coverage(include_all)))


async def coverage_map(request: web.Request) -> web.Response:
    def draw(s: AdminService) -> str:
        snapshot = s.snapshot()
        rules = snapshot.rules
        return coverage_map_svg(
            [m.id for m in rules.municipalities],
            rules.exchanges,
            snapshot.geo.exchanges,
            f"{rules.host.name.en}: municipalities, exchanges and shared zones",
        )

    svg = await run_store_work(request, draw)
    return web.Response(text=svg, content_type="image/svg+xml")
