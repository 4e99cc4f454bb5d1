"""Admin handlers of the rule versions (list, show, diff, validate, apply, activate) and of
the emergency override, which a change of the rules switches on or off."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr.admin.body import read_body
from ivr.admin.errors import problem
from ivr.admin.handling import admin_config, authorized, log_change, run_store_work
from ivr.admin.override import OverrideChange
from ivr.admin.params import int_param
from ivr.admin.requests import ActivateBody, ApplyBody, OverrideBody, ValidateBody
from ivr.admin.service import AdminService


async def rules(request: web.Request) -> web.Response:
    return web.json_response(await run_store_work(request, lambda s: s.rules()))


async def version(request: web.Request) -> web.Response:
    number = int_param(request.match_info["version"], "version", required=True)
    assert number is not None
    return web.json_response(await run_store_work(request, lambda s: s.version(number)))


async def diff(request: web.Request) -> web.Response:
    old = int_param(request.query.get("old"), "old", required=True)
    new = int_param(request.query.get("new"), "new")
    assert old is not None
    return web.json_response(await run_store_work(request, lambda s: s.diff(old, new)))


async def validate(request: web.Request) -> web.Response:
    body = await read_body(request, ValidateBody)
    return web.json_response(await run_store_work(request, lambda s: s.validate(body.content)))


@authorized
async def apply(request: web.Request) -> web.Response:
    body = await read_body(request, ApplyBody)
    result = await run_store_work(
        request,
        lambda s: s.apply(
            body.content, author=body.author, comment=body.comment, base_version=body.base_version
        ),
    )
    log_change(request, "apply", body.author, version=result.version, unchanged=result.unchanged)
    return web.json_response(
        {
            "version": result.version,
            "previous_version": result.previous_version,
            "unchanged": result.unchanged,
        },
        status=200 if result.unchanged else 201,
    )


@authorized
async def activate(request: web.Request) -> web.Response:
    number = int_param(request.match_info["version"], "version", required=True)
    assert number is not None
    body = await read_body(request, ActivateBody)
    activation = await run_store_work(
        request,
        lambda s: s.activate(
            number, author=body.author, comment=body.comment, base_version=body.base_version
        ),
    )
    log_change(request, "activate", body.author, version=number)
    return web.json_response(
        {
            "version": activation.version,
            "previous_version": activation.previous_version,
            "action": activation.action,
        }
    )


# -- override ---------------------------------------------------------------------------------


async def get_override(request: web.Request) -> web.Response:
    schedule = request.query.get("schedule") or None

    def read(s: AdminService) -> dict[str, Any]:
        try:
            return s.override(schedule)
        except KeyError as exc:
            raise problem(web.HTTPNotFound, "not_found", f"no schedule {schedule!r}") from exc

    return web.json_response(await run_store_work(request, read))


@authorized
async def set_override(request: web.Request) -> web.Response:
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
        if expires <= admin_config(request).service.clock():
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

    result, state = await run_store_work(request, store)
    log_change(request, "override", body.author, active=body.active, version=result.version)
    return web.json_response(
        {"version": result.version, "previous_version": result.previous_version, **state},
        status=200 if result.unchanged else 201,
    )
