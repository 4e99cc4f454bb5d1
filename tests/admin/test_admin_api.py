"""The admin API over real loopback HTTP: rule versions, conflicts, rollback, override, simulate,
coverage and calls."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import holidays
import pytest
from admin_testing import AUTH, StaticState
from aiohttp.test_utils import TestClient
from rules_editing import with_own_open311
from shapely.geometry import shape

from ivr311.cli import build_parser
from routing_rules.storage.store import RuleStore

Client = TestClient[Any, Any]
EDIT = ("  menu_timeout_s: 6\n", "  menu_timeout_s: 7\n")


def next_working_monday() -> date:
    """A Monday, at least two days ahead, that is not an Ontario holiday: the centres are open."""
    day = date.today() + timedelta(days=2)
    ontario = holidays.country_holidays("CA", subdiv="ON")
    while day.weekday() != 0 or day in ontario:
        day += timedelta(days=1)
    return day


MONDAY = next_working_monday()
MONDAY_NOON = f"{MONDAY.isoformat()}T12:00"


def edited(text: str, old: str = EDIT[0], new: str = EDIT[1]) -> str:
    assert old in text
    return text.replace(old, new)


async def rules(client: Client) -> dict[str, Any]:
    response = await client.get("/api/rules")
    assert response.status == 200
    data: dict[str, Any] = await response.json()
    return data


async def test_apply_stores_a_new_active_version_with_who_and_why(
    client: Client, durham_text: str
) -> None:
    body = {
        "content": edited(durham_text),
        "base_version": 1,
        "author": "alice",
        "comment": "longer menu timeout for rotary callers",
    }
    response = await client.post("/api/rules", json=body, headers=AUTH)
    assert response.status == 201
    assert await response.json() == {"version": 2, "previous_version": 1, "unchanged": False}
    history = await rules(client)
    assert history["active_version"] == 2
    newest = history["versions"][0]
    assert (newest["version"], newest["author"], newest["comment"]) == (
        2,
        "alice",
        "longer menu timeout for rotary callers",
    )
    assert history["activations"][0]["action"] == "apply"
    diff = await (await client.get("/api/rules/diff", params={"old": 1, "new": 2})).json()
    assert "-  menu_timeout_s: 6" in diff["diff"]
    assert "+  menu_timeout_s: 7" in diff["diff"]


async def test_applying_over_a_newer_version_is_refused_clearly(
    client: Client, durham_text: str, store: RuleStore
) -> None:
    first = {"content": edited(durham_text), "base_version": 1, "author": "alice", "comment": "a"}
    assert (await client.post("/api/rules", json=first, headers=AUTH)).status == 201
    second = {
        "content": edited(durham_text, "  max_attempts: 3\n", "  max_attempts: 2\n"),
        "base_version": 1,
        "author": "bob",
        "comment": "b",
    }
    response = await client.post("/api/rules", json=second, headers=AUTH)
    assert response.status == 409
    refusal = await response.json()
    assert refusal["error"] == "conflict"
    assert (refusal["base_version"], refusal["active_version"]) == (1, 2)
    assert "version 2 is active now" in refusal["message"]
    assert '"base_version": 2' in refusal["message"]
    assert store.active_version() == 2
    assert len(store.versions()) == 2


async def test_invalid_rules_are_refused_with_every_error(
    client: Client, durham_text: str, store: RuleStore
) -> None:
    broken = edited(durham_text, "  - id: pickering\n", "  - id: atlantis\n")
    validation = await (await client.post("/api/rules/validate", json={"content": broken})).json()
    assert validation["ok"] is False
    assert any("atlantis" in e["message"] for e in validation["errors"])
    body = {"content": broken, "base_version": 1, "author": "alice", "comment": "typo"}
    response = await client.post("/api/rules", json=body, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["errors"]
    assert len(store.versions()) == 1


async def test_rollback_reactivates_an_older_version(client: Client, durham_text: str) -> None:
    body = {"content": edited(durham_text), "base_version": 1, "author": "alice", "comment": "x"}
    assert (await client.post("/api/rules", json=body, headers=AUTH)).status == 201
    response = await client.post(
        "/api/rules/1/activate",
        json={"author": "bob", "comment": "callers complained", "base_version": 2},
        headers=AUTH,
    )
    assert response.status == 200
    assert await response.json() == {"version": 1, "previous_version": 2, "action": "rollback"}
    history = await rules(client)
    assert history["active_version"] == 1
    latest = history["activations"][0]
    assert (latest["action"], latest["author"], latest["comment"]) == (
        "rollback",
        "bob",
        "callers complained",
    )
    again = await client.post(
        "/api/rules/1/activate", json={"author": "bob", "comment": "again"}, headers=AUTH
    )
    assert again.status == 409
    missing = await client.post(
        "/api/rules/99/activate", json={"author": "bob", "comment": "?"}, headers=AUTH
    )
    assert missing.status == 404


async def simulate(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/simulate", json=body)
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def test_override_is_a_new_audited_version_and_expires(
    client: Client, store: RuleStore
) -> None:
    before = await simulate(client, **{"from": "9056830000", "at": MONDAY_NOON})
    expires = datetime.combine(MONDAY, time(20, 0), tzinfo=UTC)
    response = await client.post(
        "/api/override",
        json={
            "active": True,
            "reason": "ice storm: contact centres closed",
            "expires": expires.isoformat(),
            "author": "duty manager",
        },
        headers=AUTH,
    )
    assert response.status == 201, await response.text()
    state = await response.json()
    assert state["active"] is True
    assert state["version"] == 2
    assert state["reason"] == "ice storm: contact centres closed"
    current = await (await client.get("/api/override")).json()
    assert current["active"] is True
    newest = store.versions()[-1]
    assert newest.author == "duty manager"
    assert "ice storm" in newest.comment
    assert "emergency_override" not in store.diff(1, 1)
    diff = store.diff(1, 2)
    assert "+      active: true" in diff
    assert diff.count("\n+") <= 4, "only the override block changes"

    during = await simulate(client, **{"from": "9056830000", "at": MONDAY_NOON})
    assert during["trace"] != before["trace"]
    assert any(step["rule"].endswith("emergency_override") for step in during["trace"])
    assert during["prompts"][0] == "override"
    tuesday_noon = f"{MONDAY + timedelta(days=1)}T12:00"
    after_expiry = await simulate(client, **{"from": "9056830000", "at": tuesday_noon})
    assert not any("emergency_override" in step["rule"] for step in after_expiry["trace"])

    cleared = await client.post(
        "/api/override",
        json={"active": False, "reason": "storm over", "author": "duty manager"},
        headers=AUTH,
    )
    assert cleared.status == 201
    assert (await cleared.json())["active"] is False
    assert store.active_version() == 3


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"expires": None}, "needs an expiry"),
        ({"expires": "2001-01-01T00:00:00+00:00"}, "in the past"),
        ({"expires": "2099-01-01T00:00:00"}, "UTC offset"),
        ({"reason": "   "}, "reason"),
    ],
)
async def test_an_override_needs_a_reason_and_a_future_expiry(
    client: Client, change: dict[str, Any], complaint: str, store: RuleStore
) -> None:
    body = {
        "active": True,
        "reason": "storm",
        "expires": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        "author": "ops",
        **change,
    }
    response = await client.post("/api/override", json=body, headers=AUTH)
    assert response.status == 422
    assert complaint in (await response.json())["message"]
    assert len(store.versions()) == 1


CLI_CASES = [
    ["--from", "9056830000", "--at", MONDAY_NOON],
    ["--from", "9059850000", "--at", MONDAY_NOON, "--press", "2"],
    ["--from", "anonymous", "--at", "2026-12-24T18:00"],
    ["--at", MONDAY_NOON, "--greeting-key", "0"],
    ["--lat", "43.85", "--lon", "-79.05", "--at", MONDAY_NOON],
]


def _request_for(argv: list[str]) -> dict[str, Any]:
    names = {"--from": "from", "--at": "at", "--greeting-key": "greeting_key"}
    body: dict[str, Any] = {}
    pairs = dict(zip(argv[::2], argv[1::2], strict=True))
    for flag, value in pairs.items():
        if flag == "--press":
            body["press"] = [value]
        elif flag in ("--lat", "--lon"):
            body[flag[2:]] = float(value)
        else:
            body[names[flag]] = value
    return body


@pytest.mark.parametrize("argv", CLI_CASES)
async def test_simulate_returns_the_same_json_as_the_command_line(
    client: Client, database_url: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    api = await simulate(client, **_request_for(argv))
    capsys.readouterr()
    # The command's own handler, as `ivr311 simulate --store --json` runs it (minus the
    # process-wide logging set-up `main` does).
    args = build_parser().parse_args(
        ["simulate", "--store", "--database", database_url, "--json", *argv]
    )
    assert args.handler(args) == 0
    cli = json.loads(capsys.readouterr().out)
    assert api == cli


async def test_coverage_table_lists_the_rule_sets_exchanges(client: Client) -> None:
    table = await (await client.get("/api/coverage")).json()
    rows = {row["id"]: row for row in table["exchanges"]}
    assert "bowmanville" in rows
    assert {row["classification"] for row in rows.values()} <= {"inside", "shared"}
    assert any(row["classification"] == "shared" for row in rows.values())
    for row in rows.values():
        assert row["municipalities"]
        assert sum(m["share"] for m in row["municipalities"]) == pytest.approx(1.0, abs=0.05)


async def test_coverage_map_is_an_svg_of_the_member_municipalities(client: Client) -> None:
    response = await client.get("/api/coverage/map.svg")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    root = ET.fromstring(await response.text())
    ns = {"svg": "http://www.w3.org/2000/svg"}
    drawn = {p.get("data-id") for p in root.iterfind(".//svg:path[@class='municipality']", ns)}
    assert {"pickering", "oshawa", "clarington"} <= drawn
    shared = {p.get("data-id") for p in root.iterfind(".//svg:path[@class='exchange shared']", ns)}
    zones = {p.get("data-id") for p in root.iterfind(".//svg:path[@class='shared-zone']", ns)}
    assert zones and zones <= shared
    assert float(root.get("data-deg-per-unit-x", "0")) > 0


async def test_a_point_on_the_map_says_which_municipality_and_route(client: Client) -> None:
    from geo.sources import GeoSources

    features = json.loads(GeoSources().municipalities.read_text(encoding="utf-8"))
    whitby = next(f for f in features["features"] if f["properties"]["id"] == "whitby")
    point = shape(whitby["geometry"]).representative_point()
    response = await client.get(
        "/api/locate", params={"lat": point.y, "lon": point.x, "at": MONDAY_NOON}
    )
    assert response.status == 200
    found = await response.json()
    assert found["municipality"] == "whitby"
    assert found["member"] is True
    assert found["route"]["outcome"]["municipality"] == "whitby"
    bad = await client.get("/api/locate", params={"lat": "north", "lon": 0})
    assert bad.status == 400


async def test_calls_lists_live_calls_and_decision_records(
    client: Client, state: StaticState
) -> None:
    state.calls.append({"call_id": "c-1", "state": "menu", "caller": "905623-1a2b", "age_s": 12.5})
    state.calls.append(
        {
            "call_id": "c-2",
            "state": "transferring",
            "caller": "905683-3c4d",
            "age_s": 30.0,
            "rules_version": 1,
            "destination": "pickering-ccc",
        }
    )
    state.decisions.append({"call_id": "c-0", "caller": "905683-9f9f", "outcome": "completed"})
    listing = await (await client.get("/api/calls")).json()
    assert listing["calls"][0]["call_id"] == "c-1"
    assert listing["calls"][0]["municipality"] is None
    assert listing["calls"][1]["municipality"] == "pickering"
    assert listing["recent"][0]["outcome"] == "completed"
    record = await (await client.get("/api/calls/c-0")).json()
    assert record["decision"]["caller"] == "905683-9f9f"
    assert (await client.get("/api/calls/nope")).status == 404


async def test_the_page_and_the_openapi_document_are_served(client: Client) -> None:
    page = await client.get("/")
    assert page.status == 200
    html = await page.text()
    assert "ivr311 admin" in html
    assert "http://" not in html and "https://" not in html
    script = await (await client.get("/static/admin.js")).text()
    assert "fetch(" in script
    document = await (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert {"/api/rules", "/api/simulate", "/api/override", "/api/coverage"} <= set(
        document["paths"]
    )


async def test_locate_refuses_out_of_range_and_swapped_coordinates(client: Client) -> None:
    for params, said in [
        ({"lat": 91, "lon": 0}, "latitude 91 is out of range (-90 to 90); the values look swapped"),
        ({"lat": 43.9, "lon": -200}, "longitude -200 is out of range (-180 to 180)"),
        ({"lat": -79.0868, "lon": 43.8384}, "did you mean latitude 43.8384, longitude -79.0868?"),
    ]:
        response = await client.get("/api/locate", params=params)
        assert response.status == 400
        assert said in (await response.json())["message"]


async def test_simulate_shows_the_status_check_in_the_trace(client: Client) -> None:
    call = {"from": "9056830000", "at": MONDAY_NOON, "greeting_key": "*"}
    asked = await simulate(client, **call)
    assert asked["outcome"]["action"] == "status_check"
    assert asked["prompts"] == ["status-ask"]
    slow = await simulate(client, **call, status="slow")
    step = next(t for t in slow["trace"] if t["stage"] == "status")
    assert "status check: slow" in step["evidence"] and step["result"] == "route to a person"
    assert slow["outcome"]["action"] != "message"


async def test_simulate_shows_the_websites_read_out(client: Client) -> None:
    saturday = f"{(MONDAY + timedelta(days=5)).isoformat()}T11:00"
    closed = await simulate(client, **{"from": "9056230123", "at": saturday})
    assert [(w["owner"], w["point"]) for w in closed["websites"]] == [
        ("clarington", "after_hours"),
        ("durham", "transfer_failed"),
    ]
    assert "website-clarington" in closed["prompts"]
    assert [t["result"] for t in closed["trace"] if t["stage"] == "website"] == [
        "play website-clarington",
        "play website-durham",
    ]


async def test_simulate_shows_the_status_menu_choice(client: Client, durham_text: str) -> None:
    """Pickering and Ajax run their own servers: a withheld number picks one at the status
    menu (the first of ``press``)."""
    text = durham_text
    for mun in ("pickering", "ajax"):
        text = with_own_open311(text, mun, f"https://311.{mun}.example/")
    body = {"content": text, "base_version": 1, "author": "alice", "comment": "own servers"}
    assert (await client.post("/api/rules", json=body, headers=AUTH)).status == 201
    call = {"at": MONDAY_NOON, "greeting_key": "*"}
    menu = await simulate(client, **call)
    assert menu["outcome"]["menu"] == "status"
    assert menu["outcome"]["options"] == {"1": "pickering", "2": "ajax", "3": "durham"}
    chosen = await simulate(client, **call, press=["1"], status="not_found")
    steps = [(t["evidence"], t["result"]) for t in chosen["trace"] if t["stage"] == "status"]
    assert ("status menu: pressed 1", "Pickering") in steps
    assert ("status check: not_found; then no key", "route to a person") in steps
