"""Status look-ups against a GeoReport v2 server over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ivr.open311.client import GeoReportClient, api_key
from routing_rules.decision import RequestStatus, StatusResult
from routing_rules.schema import Open311
from switchsim.georeport import (
    MALFORMED_ID,
    SERVER_ERROR_ID,
    SLOW_ID,
    WRONG_TYPE_ID,
    GeoReportServer,
)


@pytest.fixture
async def server() -> AsyncIterator[GeoReportServer]:
    async with GeoReportServer(jurisdiction_id="durham.example", api_key="k-123") as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def client_for(
    session: aiohttp.ClientSession, base_url: str, key: str | None = "k-123", budget_ms: int = 1000
) -> GeoReportClient:
    service = Open311.model_validate(
        {
            "base_url": base_url,
            "jurisdiction_id": "durham.example",
            "budget_ms": budget_ms,
            "key": "8",
        }
    )
    return GeoReportClient(session, service, key)


async def test_a_found_request_gives_its_status_and_last_update(
    server: GeoReportServer, session: aiohttp.ClientSession
) -> None:
    client = client_for(session, server.base_url)
    lookup = await client.status("5678")
    assert lookup.result is StatusResult.FOUND and lookup.request is not None
    assert lookup.request.spoken_status is RequestStatus.IN_PROGRESS
    assert lookup.request.updated_datetime is not None
    assert lookup.request.updated_datetime.date().isoformat() == "2026-12-02"
    closed = await client.status("638344")
    assert closed.request is not None and closed.request.spoken_status is RequestStatus.CLOSED
    fresh = await client.status("1234")
    assert fresh.request is not None and fresh.request.spoken_status is RequestStatus.OPEN


@pytest.mark.parametrize(
    ("request_id", "result"),
    [
        ("4242", StatusResult.NOT_FOUND),
        (SLOW_ID, StatusResult.SLOW),
        (SERVER_ERROR_ID, StatusResult.DOWN),
        (MALFORMED_ID, StatusResult.BAD_ANSWER),
        (WRONG_TYPE_ID, StatusResult.BAD_ANSWER),
    ],
)
async def test_each_failure_has_its_own_result(
    server: GeoReportServer,
    session: aiohttp.ClientSession,
    request_id: str,
    result: StatusResult,
) -> None:
    lookup = await client_for(session, server.base_url, budget_ms=200).status(request_id)
    assert lookup.result is result and lookup.request is None


async def test_a_server_that_is_not_there_is_down(session: aiohttp.ClientSession) -> None:
    async with GeoReportServer() as gone:
        url = gone.base_url
    lookup = await client_for(session, url).status("1234")
    assert lookup.result is StatusResult.DOWN


async def test_the_jurisdiction_and_key_are_sent(
    server: GeoReportServer, session: aiohttp.ClientSession
) -> None:
    refused = await client_for(session, server.base_url, key=None).status("1234")
    assert refused.result is StatusResult.DOWN
    assert (await client_for(session, server.base_url).status("1234")).result is StatusResult.FOUND


async def test_a_base_url_with_a_path_is_followed(session: aiohttp.ClientSession) -> None:
    async with GeoReportServer(prefix="/open311/v2") as prefixed:
        lookup = await client_for(session, f"{prefixed.base_url}/open311/v2/").status("1234")
    assert lookup.result is StatusResult.FOUND


def test_the_key_comes_from_the_environment_or_a_secret_file(tmp_path: Path) -> None:
    by_env = Open311.model_validate(
        {"base_url": "https://x.example/", "api_key_env": "X_KEY", "key": "8"}
    )
    assert api_key(by_env, {"X_KEY": "from-env"}) == "from-env"
    assert api_key(by_env, {}) is None
    secret = tmp_path / "key"
    secret.write_text("from-file\n", encoding="utf-8")
    by_file = Open311.model_validate(
        {"base_url": "https://x.example/", "api_key_file": str(secret), "key": "8"}
    )
    assert api_key(by_file, {}) == "from-file"
    missing = by_file.model_copy(update={"api_key_file": tmp_path / "absent"})
    assert api_key(missing, {}) is None
