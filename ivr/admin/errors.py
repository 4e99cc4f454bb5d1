"""JSON error responses of the admin API: ``{"error": CODE, "message": TEXT, ...}``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


def problem(
    kind: type[web.HTTPError],
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> web.HTTPError:
    """An aiohttp HTTP error carrying a JSON body (raise it from a handler)."""
    body = json.dumps({"error": code, "message": message, **extra})
    return kind(text=body, content_type="application/json", headers=headers)
