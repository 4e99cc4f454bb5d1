"""Query and path parameters of admin requests (and the ``at`` time of a simulation): a value
that cannot be used is a JSON error naming the parameter."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ivr.admin.errors import problem


def int_param(value: str | None, name: str, *, required: bool = False) -> int | None:
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


def float_param(request: web.Request, name: str, low: float, high: float) -> float:
    try:
        value = float(request.query[name])
    except KeyError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: required") from exc
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: not a number") from exc
    if not low <= value <= high:
        raise problem(web.HTTPBadRequest, "bad_parameter", f"{name}: out of range")
    return value


def check_at(value: str | None) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise problem(web.HTTPUnprocessableEntity, "invalid_request", f"at: {exc}") from exc
