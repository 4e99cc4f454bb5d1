"""Request bodies of the admin API: read within the limits, parsed as JSON, validated.

`read_body` answers every body it cannot use with a JSON error naming the problem (see the
README's "Errors and limits"): the size is bounded by the HTTP server's `MAX_BODY_BYTES`, and
the nesting, the numbers and the fields here.
"""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ivr.admin.errors import problem
from ivr.controller.http_boundary import MAX_BODY_BYTES, too_large
from ivr.logs import SURROGATE

B = TypeVar("B", bound=BaseModel)


async def read_body(request: web.Request, model: type[B]) -> B:
    """The JSON object of the request, as ``model``: 413 over `MAX_BODY_BYTES`, 415 when it is
    compressed, 400 when it is not a JSON object nested at most `MAX_JSON_DEPTH` deep or its
    text holds an unpaired surrogate escape (naming where), 422 naming each wrong field and its
    value."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large(request.content_length)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        # aiohttp would inflate it, and a deflate stream cut short leaves the read waiting.
        raise problem(
            web.HTTPUnsupportedMediaType,
            "unsupported_encoding",
            f"send the body uncompressed, not as Content-Encoding {encoding!r}",
        )
    raw = await request.read()  # aiohttp stops reading past the limit, with or without a length
    try:
        data = json.loads(raw or b"null", parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except _NumberTooLong as exc:
        raise problem(web.HTTPBadRequest, "bad_json", str(exc)) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise problem(web.HTTPBadRequest, "bad_json", f"the body is not JSON: {exc}") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise _too_deep()
    where = _unpaired_surrogate_at(data)
    if where is not None:
        raise problem(
            web.HTTPBadRequest,
            "bad_json",
            f"the body's text at {where} holds an unpaired surrogate escape (such as \\ud800), "
            "which is not Unicode text",
        )
    if not isinstance(data, dict):
        raise problem(
            web.HTTPBadRequest,
            "bad_json",
            f"the body must be a JSON object, not {_json_type(data)}",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problem(
            web.HTTPUnprocessableEntity,
            "invalid_request",
            "; ".join(_field_problem(e) for e in exc.errors()),
        ) from exc


MAX_JSON_DEPTH = 8
"""How deeply a request body may nest arrays and objects (the API's bodies need 2)."""

MAX_INT_DIGITS = 18
"""The longest integer a body may hold: every one is a version number, and 18 digits stay
inside the 64-bit integers of SQLite and PostgreSQL."""


class _NumberTooLong(ValueError):
    pass


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _NumberTooLong(f"a number in the body has {digits} digits; at most {MAX_INT_DIGITS}")
    return int(text)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> web.HTTPError:
    return problem(
        web.HTTPBadRequest,
        "bad_json",
        f"the body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep",
    )


def _depth(value: object) -> int:
    """How deeply ``value`` (parsed JSON) nests arrays and objects, without recursion."""
    deepest, level = 0, [(value, 0)]
    while level:
        node, depth = level.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_JSON_DEPTH:
                break
            children = node.values() if isinstance(node, dict) else node
            level.extend((child, depth + 1) for child in children)
    return deepest


def _unpaired_surrogate_at(value: object) -> str | None:
    """Where ``value`` (parsed JSON, nested at most `MAX_JSON_DEPTH` deep) holds a surrogate
    code point (`SURROGATE`: a JSON ``\\ud800`` escape without its pair; a pair is read as the
    character it stands for), in a key or a string (``field.sub[2]``); None when nowhere."""
    pending: list[tuple[object, str]] = [(value, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, str) and SURROGATE.search(node):
            return where or "the top level"
        if isinstance(node, dict):
            for key, child in node.items():
                if SURROGATE.search(key):
                    return f"a key of {where}" if where else "a key at the top level"
                pending.append((child, f"{where}.{key}" if where else key))
        elif isinstance(node, list):
            pending.extend((child, f"{where}[{i}]") for i, child in enumerate(node))
    return None


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _field_problem(error: ErrorDetails) -> str:
    """``field: what is wrong (got VALUE)`` for one pydantic error."""
    where = ".".join(str(p) for p in error["loc"]) or "body"
    if error["type"] == "missing":
        return f"{where}: required"
    return f"{where}: {error['msg']} (got {_shown(error.get('input'))})"


def _shown(value: object, limit: int = 60) -> str:
    """A short, one-line rendering of a rejected value."""
    if isinstance(value, str) and len(value) > limit:
        return json.dumps(value[:limit], ensure_ascii=False)[:-1] + f'…" ({len(value)} characters)'
    if isinstance(value, dict | list) and len(value) > 10:
        return f"{_json_type(value).removeprefix('an ').removeprefix('a ')} of {len(value)}"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
