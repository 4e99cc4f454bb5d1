"""Bearer-token check for admin requests that change state.

The token is read on every request (``IVR311_ADMIN_TOKEN`` or the file ``IVR311_ADMIN_TOKEN_FILE``
names), so rotating the file takes effect without a restart. With no token configured, every
change is refused: an admin API without a secret must not be writable.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from aiohttp import web

from ivr.admin.errors import problem


def check_bearer(request: web.Request, expected: Callable[[], str | None]) -> None:
    """Raise 401 (no credentials), 403 (wrong token) or 503 (no token configured)."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise problem(
            web.HTTPUnauthorized,
            "unauthorized",
            "this request changes state: send 'Authorization: Bearer <admin token>'",
            headers={"WWW-Authenticate": 'Bearer realm="ivr311-admin"'},
        )
    token = expected()
    if not token:
        raise problem(
            web.HTTPServiceUnavailable,
            "no_admin_token",
            "no admin token is configured: set IVR311_ADMIN_TOKEN or IVR311_ADMIN_TOKEN_FILE",
        )
    # aiohttp keeps header bytes that are not UTF-8 as surrogates: they must still compare.
    if not hmac.compare_digest(presented.strip().encode(errors="surrogateescape"), token.encode()):
        raise problem(web.HTTPForbidden, "forbidden", "the admin token is not valid")
