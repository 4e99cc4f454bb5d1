"""The boundary of the controller's HTTP server: every answer is JSON or a page, never a trace.

`error_boundary` is the one place where a request's failure becomes an answer: an HTTP error
raised by a handler or by aiohttp itself (404, 405, a body over the limit) is answered as JSON
``{"error": CODE, "message": TEXT}`` with its status; any other exception is a ``500`` with
``{"error": "internal", ...}`` and one ``http.failed`` log event carrying the exception's type,
message and place (see `ivr.logs.exception_fields`), never a traceback. `security_headers`
adds the page's Content-Security-Policy and its companions to every response.

`MAX_BODY_BYTES` is the request-body limit aiohttp enforces (``client_max_size``, with or
without a Content-Length, compressed or not) and the admin API states.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from ivr.logs import exception_fields
from routing_rules.limits import MAX_RULES_BYTES

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 3 * MAX_RULES_BYTES + 64 * 1024
"""A request body, in bytes. The largest body carries a whole rule set as a JSON string, and
JSON escaping can triple its UTF-8 size (``\\u00e9`` for the two bytes of ``é``); 64 KiB more
hold the other fields."""

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""The admin page loads only its own script, style sheet and API (no inline script or style),
and no other site may frame it."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(code: str, message: str, **extra: object) -> str:
    """The JSON text of an error answer."""
    return json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False)


def too_large(size: int) -> web.HTTPRequestEntityTooLarge:
    """The 413 answer for a body that says it is ``size`` bytes, over `MAX_BODY_BYTES`."""
    message = f"the body is {size} bytes; a request body may hold {MAX_BODY_BYTES} bytes"
    return web.HTTPRequestEntityTooLarge(
        MAX_BODY_BYTES,
        size,
        text=error_body("too_large", message),
        content_type="application/json",
    )


@web.middleware
async def error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure of ``handler`` as JSON with the right status (see the module)."""
    where = {"method": request.method, "path": request.path}
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, answer = _as_json(exc)
    except (HttpProcessingError, RequestPayloadError) as exc:  # bad chunking, a short body
        code = "bad_body"
        answer = _answer(HTTPStatus.BAD_REQUEST, code, f"the body cannot be read: {exc}")
    except ConnectionError as exc:  # the client left while its body was being read
        log.info("http.client_gone", **where, **exception_fields(exc))
        return _answer(HTTPStatus.BAD_REQUEST, "client_gone", "the connection was closed")
    except Exception as exc:
        log.error("http.failed", **where, **exception_fields(exc))
        return _answer(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal",
            f"the request failed inside the controller ({type(exc).__name__}); "
            "its log has an http.failed event",
        )
    log.info("http.refused", **where, status=answer.status, error=code)
    return answer


def _answer(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=error_body(code, message),
        content_type="application/json",
        headers=headers,
    )


def _as_json(exc: web.HTTPException) -> tuple[str, web.Response]:
    """``exc`` as (error code, JSON answer): a handler's own JSON body is kept; aiohttp's
    text answers (404, 405, 413...) become a code from the status and the text as message."""
    headers = {
        k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")
    }
    if exc.content_type == "application/json" and exc.text is not None:
        body = json.loads(exc.text)
        return str(body["error"]), web.Response(
            status=exc.status, text=exc.text, content_type="application/json", headers=headers
        )
    if exc.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        code, message = "too_large", f"a request body may hold {MAX_BODY_BYTES} bytes"
    else:
        code = exc.reason.lower().replace(" ", "_").replace("-", "_")
        message = (exc.text or exc.reason).removeprefix(f"{exc.status}: ")
    return code, _answer(exc.status, code, message, headers)


class ClientFaultsAreInfo(logging.Filter):
    """aiohttp's server logs a request the client garbled (a bad header, broken chunking, a
    body it was still reading after the answer) as an error with the exception; it is the
    client's fault, not the controller's: such records are logged at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if isinstance(failure, HttpProcessingError | RequestPayloadError):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


CLIENT_FAULTS_ARE_INFO = ClientFaultsAreInfo()
"""Installed on the ``aiohttp.server`` logger by ``ivr.controller.http.make_app``."""


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` signal: `SECURITY_HEADERS` on every answer."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
