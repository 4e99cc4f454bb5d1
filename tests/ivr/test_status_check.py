"""The service-request status check, whole calls through the controller and the simulated
switch, against a GeoReport v2 server over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ivr_testing import BUSINESS_HOURS, GREETING, Harness, fast_settings, number_with
from virtual_clock import VirtualClock

from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.decision import Transfer
from routing_rules.snapshot import DEMO_DIR, default_geo, snapshot_from_text
from switchsim import FakeSwitch, Outcome
from switchsim.georeport import (
    MALFORMED_ID,
    SERVER_ERROR_ID,
    SLOW_ID,
    WRONG_TYPE_ID,
    GeoReportServer,
)
from switchsim.simulation import simulated_controller

DEMO_SERVER = 'base_url: "http://127.0.0.1:8320/", budget_ms: 1500'


@pytest.fixture
async def server() -> AsyncIterator[GeoReportServer]:
    async with GeoReportServer() as running:
        yield running


@pytest.fixture
async def harness(server: GeoReportServer) -> AsyncIterator[Harness]:
    """The Durham demo rules, Service Durham's Open311 server being ``server`` (budget 300 ms)."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    assert DEMO_SERVER in text
    text = text.replace(DEMO_SERVER, f'base_url: "{server.base_url}/", budget_ms: 300')
    text = text.replace("ring_timeout_s: 20", "ring_timeout_s: 5")
    snapshot = snapshot_from_text(text, default_geo(), source="test:durham-open311")
    metrics = Metrics()
    clock = [BUSINESS_HOURS]
    timers = VirtualClock()
    switch = FakeSwitch(
        playback_s=0.02,
        media_durations={GREETING: 60.0},
        default_outcome=Outcome(kind="answer", press="1"),
    )
    async with simulated_controller(
        fast_settings(),
        RulesSource.fixed(snapshot, metrics),
        switch=switch,
        clock=lambda: clock[0],
        scheduler=timers,
    ) as (fake, controller):
        yield Harness(fake, controller, snapshot, clock, timers)


def whitby_caller(harness: Harness) -> str:
    """A caller the exchange places in Whitby, served by Service Durham's agents."""
    return number_with(
        harness.snapshot, lambda s: isinstance(s, Transfer) and s.municipality_id == "whitby"
    )


async def ask_status(harness: Harness, keys: str) -> str:
    """A Whitby resident presses * in the greeting and keys ``keys`` when asked."""
    call_id = harness.call(whitby_caller(harness))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "*")
    await harness.until(lambda: "status-ask" in harness.heard(call_id))
    for key in keys:
        harness.switch.press(call_id, key)
    return call_id


async def test_a_found_request_is_read_out_then_the_caller_may_leave(
    harness: Harness, server: GeoReportServer
) -> None:
    call_id = await ask_status(harness, "5678#")
    await harness.until(lambda: "status-agent-offer" in harness.heard(call_id))
    assert server.asked == ["5678"]
    heard = harness.heard(call_id)
    answer = heard[heard.index("status-request") :]
    assert answer == [
        "status-request",
        "digits:5678",
        "status-in-progress",
        "status-updated",
        "month-12",
        "number:2",
        "number:2026",
        "status-agent-offer",
    ]
    await harness.expire(call_id, "status")
    record = await harness.ended(call_id)
    assert record["outcome"] == "message"
    assert record["status_check"] == "found"
    assert harness.heard(call_id)[-1] == "goodbye"
    assert any(t["stage"] == "status" and "found" in t["evidence"] for t in record["trace"])
    assert harness.metric("ivr311_status_checks_total", {"result": "found"}) == 1


async def test_after_the_status_0_reaches_a_person(harness: Harness) -> None:
    call_id = await ask_status(harness, "638344#")
    await harness.until(lambda: "status-agent-offer" in harness.heard(call_id))
    assert "status-closed" in harness.heard(call_id)
    assert "status-note-duplicate" in harness.heard(call_id)
    harness.switch.press(call_id, "0")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed" and record["status_check"] == "found"
    assert record["destination"] == "durham-agents"


@pytest.mark.parametrize(
    ("keys", "result", "prompt"),
    [
        ("4242#", "not_found", "status-not-found"),
        (f"{SLOW_ID}#", "slow", "status-unavailable"),
        (f"{SERVER_ERROR_ID}#", "down", "status-unavailable"),
        (f"{MALFORMED_ID}#", "bad_answer", "status-unavailable"),
        (f"{WRONG_TYPE_ID}#", "bad_answer", "status-unavailable"),
        ("#", "no_number", "status-no-number"),
        ("1" * 40 + "#", "too_long", "status-too-long"),
    ],
)
async def test_every_failure_is_spoken_and_leads_to_a_person(
    harness: Harness, keys: str, result: str, prompt: str
) -> None:
    call_id = await ask_status(harness, keys)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    heard = harness.heard(call_id)
    assert prompt in heard and heard.index(prompt) < heard.index("transferring")
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["status_check"] == result
    assert record["destination"] == "durham-agents"
    assert harness.metric("ivr311_status_checks_total", {"result": result}) == 1


async def test_keying_nothing_ends_the_number_and_reaches_a_person(harness: Harness) -> None:
    call_id = await ask_status(harness, "")
    await harness.expire(call_id, "status")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert "status-no-number" in harness.heard(call_id)
    harness.switch.hangup_caller(call_id)
    assert (await harness.ended(call_id))["status_check"] == "no_number"


async def test_a_server_that_is_down_is_spoken_too(
    harness: Harness, server: GeoReportServer
) -> None:
    await server.stop()
    call_id = await ask_status(harness, "1234#")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert "status-unavailable" in harness.heard(call_id)
    harness.switch.hangup_caller(call_id)
    assert (await harness.ended(call_id))["status_check"] == "down"
