"""Bad requests get a clear JSON answer with the right status, and the log one event, never a
traceback: oversized, chunked, deeply nested and wrongly shaped bodies, unknown routes, and a
failure inside a handler."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from admin_testing import AUTH
from aiohttp.test_utils import TestClient
from structured_log import production_log

from ivr.admin import AdminService
from ivr.controller.http_boundary import MAX_BODY_BYTES
from routing_rules.limits import MAX_RULES_BYTES
from routing_rules.storage.store import RuleStore

Client = TestClient[Any, Any]
POSTS = ["/api/rules/validate", "/api/rules", "/api/rules/1/activate", "/api/override"]
POSTS += ["/api/simulate"]


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert set(body) >= {"error", "message"}
    return body


def test_the_body_limit_holds_a_rule_set_at_its_own_limit_however_it_is_escaped() -> None:
    worst = 3 * MAX_RULES_BYTES  # "\\u00e9" for each two-byte "é": three times the bytes
    assert worst < MAX_BODY_BYTES <= worst + 128 * 1024


@pytest.mark.parametrize("path", POSTS)
async def test_a_ten_megabyte_body_is_refused_with_413(client: Client, path: str) -> None:
    response = await client.post(path, data=b"x" * 10_000_000, headers=AUTH)
    body = await error_of(response, 413)
    assert body["error"] == "too_large"
    assert str(MAX_BODY_BYTES) in body["message"]


async def test_a_chunked_body_without_a_length_is_limited_too(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    response = await client.post("/api/rules/validate", data=chunks())
    assert (await error_of(response, 413))["error"] == "too_large"


async def test_a_body_just_under_the_limit_is_read(client: Client) -> None:
    filler = "#" * (MAX_BODY_BYTES - 1000)
    response = await client.post("/api/rules/validate", json={"content": filler})
    assert response.status == 200


@pytest.mark.parametrize("path", POSTS)
async def test_deeply_nested_json_is_a_400_that_says_so(client: Client, path: str) -> None:
    for depth in (20, 100_000):
        nested = b"[" * depth + b"]" * depth
        for body in (nested, b'{"content": ' + nested + b"}"):
            response = await client.post(path, data=body, headers=AUTH)
            assert "levels deep" in (await error_of(response, 400))["message"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"[1, 2]", 400, "must be a JSON object, not an array"),
        (b'"text"', 400, "not a string"),
        (b"{", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b'{"content": NaN}', 400, "NaN is not a JSON number"),
        (b'{"content": 1' + b"0" * 30 + b"}", 400, "31 digits"),
        (b'{"content": 5}', 422, "content: Input should be a valid string (got 5)"),
        (
            b'{"content": "x", "colour": "red"}',
            422,
            'colour: Extra inputs are not permitted (got "red")',
        ),
        (b"{}", 422, "content: required"),
    ],
)
async def test_a_body_of_the_wrong_shape_names_the_field_and_value(
    client: Client, body: bytes, status: int, says: str
) -> None:
    response = await client.post("/api/rules/validate", data=body)
    assert says in (await error_of(response, status))["message"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    ("body", "where"),
    [
        (rb'{"author": "duty\ud800 manager", "content": "x"}', "at author holds"),
        (rb'{"content": "x", "reason": ["fine", "\udfff"]}', "at reason[1] holds"),
        (rb'{"content": {"a": {"\udc00": 1}}}', "at a key of content.a holds"),
        (rb'"\ud83d"', "at the top level holds"),
    ],
)
async def test_an_unpaired_surrogate_escape_is_a_400_naming_where_not_a_500(
    client: Client, store: RuleStore, path: str, body: bytes, where: str
) -> None:
    before = store.active_version()
    response = await client.post(path, data=body, headers=AUTH)
    message = (await error_of(response, 400))["message"]
    assert where in message and "unpaired surrogate" in message
    assert store.active_version() == before


async def test_a_surrogate_pair_escape_is_the_character_it_stands_for(client: Client) -> None:
    response = await client.post("/api/rules/validate", data=rb'{"content": "# \ud83d\ude00"}')
    assert response.status == 200, await response.text()


async def test_a_huge_string_in_the_wrong_place_is_shown_shortened(client: Client) -> None:
    response = await client.post(
        "/api/simulate", json={"from": "9" * 5000, "at": "2026-11-24T10:00"}
    )
    message = (await error_of(response, 422))["message"]
    assert message.startswith("from: String should have at most 100 characters")
    assert "(5000 characters)" in message and len(message) < 300


async def test_unknown_routes_and_methods_answer_json(client: Client) -> None:
    assert (await error_of(await client.get("/api/nothing-here"), 404))["error"] == "not_found"
    response = await client.put("/api/rules")
    assert (await error_of(response, 405))["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


async def test_every_answer_carries_the_security_headers(client: Client) -> None:
    for response in (
        await client.get("/api/rules"),
        await client.get("/api/nothing-here"),
        await client.post("/api/rules/validate", data=b"{"),
    ):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_a_failure_inside_a_handler_is_a_500_and_one_log_event(
    client: Client, service: AdminService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, Any]:
        raise ZeroDivisionError("the bug")

    monkeypatch.setattr(service, "rules", broken)
    with production_log() as events:
        response = await client.get("/api/rules")
        body = await error_of(response, 500)
    assert body["error"] == "internal"
    assert "ZeroDivisionError" in body["message"]
    (failed,) = [e for e in events if e["event"] == "http.failed"]
    assert (failed["error_type"], failed["error"], failed["path"]) == (
        "ZeroDivisionError",
        "the bug",
        "/api/rules",
    )
    assert failed["error_at"].startswith("admin/test_admin_errors.py:")


async def test_a_store_that_fails_is_a_503(
    client: Client, service: AdminService, store: RuleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone() -> dict[str, Any]:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(service, "rules", gone)
    with production_log() as events:
        body = await error_of(await client.get("/api/rules"), 503)
    assert body["error"] == "store_unavailable"
    assert [e["error_type"] for e in events if e["event"] == "admin.store_failed"] == ["OSError"]


def test_aiohttps_own_error_records_are_one_json_event_without_a_traceback() -> None:
    with production_log() as events:
        try:
            raise RuntimeError("inside aiohttp")
        except RuntimeError as exc:
            logging.getLogger("aiohttp.server").error("Error handling request", exc_info=exc)
    (event,) = events
    assert (event["logger"], event["error_type"], event["error"]) == (
        "aiohttp.server",
        "RuntimeError",
        "inside aiohttp",
    )


async def test_a_compressed_body_is_refused_before_it_is_inflated(client: Client) -> None:
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES + 1024))
    response = await client.post(
        "/api/rules/validate", data=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert (await error_of(response, 415))["error"] == "unsupported_encoding"


async def test_a_token_that_is_not_utf8_is_refused_not_a_500(client: Client) -> None:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /api/rules HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\xe9\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b'"error": "forbidden"' in answer
