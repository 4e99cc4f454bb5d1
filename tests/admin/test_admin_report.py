"""``GET /api/report``: the command's report over HTTP, read-only, in every format; a bad
parameter is a JSON 400 naming it."""

from __future__ import annotations

from datetime import date

import jsonschema_rs
import pytest
from aiohttp.test_utils import TestClient
from report_testing import expected_document, random_calls

from ivr.reports.render_json import schema
from routing_rules.storage.call_records import CallRecordStore, StoredCall
from routing_rules.storage.store import RuleStore

RANGE = "from=2026-10-01&to=2026-11-30"


@pytest.fixture
def calls(store: RuleStore) -> list[StoredCall]:
    made = random_calls(seed=7, count=800, first=date(2026, 10, 1), days=61)
    CallRecordStore(store).write(made)
    return made


async def test_the_json_report_counts_the_stored_calls(
    client: TestClient, calls: list[StoredCall]
) -> None:
    response = await client.get(f"/api/report?{RANGE}&by=week")
    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    jsonschema_rs.validator_for(schema()).validate(document)
    expected = expected_document(calls, date(2026, 10, 1), date(2026, 11, 30), "week", (20, 30))
    assert {k: v for k, v in document.items() if k != "schema"} == expected
    assert document["calls_offered"]["total"] == len(calls)


@pytest.mark.parametrize(
    ("fmt", "media_type", "marker"),
    [
        ("csv", "text/csv", "overlap,exchange"),
        ("text", "text/plain", "Shared exchanges: where callers chose to go"),
        ("html", "text/html", '<section id="overlap">'),
    ],
)
async def test_every_format_is_served(
    client: TestClient, calls: list[StoredCall], fmt: str, media_type: str, marker: str
) -> None:
    response = await client.get(f"/api/report?{RANGE}&format={fmt}")
    assert response.status == 200
    assert response.content_type == media_type
    assert marker in await response.text()
    if fmt == "html":
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("to=2026-11-30", "from"),
        ("from=2026-11-31&to=2026-12-01", "from"),
        ("from=2026-12-01&to=2026-11-01", "to"),
        (f"{RANGE}&by=year", "by"),
        (f"{RANGE}&format=pdf", "format"),
        (f"{RANGE}&service_level=-5", "service_level"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(
    client: TestClient, query: str, name: str
) -> None:
    response = await client.get(f"/api/report?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_parameter"
    assert body["message"].startswith(f"{name}: ")


async def test_the_report_is_documented_with_its_schema(client: TestClient) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/report"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "from",
        "to",
        "by",
        "format",
        "service_level",
    }
    report = document["components"]["schemas"]["Report"]
    assert "calls_offered" in report["required"]
