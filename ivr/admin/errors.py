"""JSON error responses of the admin API: ``{"error": CODE, "message": TEXT, ...}``."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ivr.controller.http_boundary import error_body


def problem(
    kind: type[web.HTTPError],
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> web.HTTPError:
    """An aiohttp HTTP error carrying a JSON body (raise it from a handler)."""
    return kind(
        text=error_body(code, message, **extra), content_type="application/json", headers=headers
    )
