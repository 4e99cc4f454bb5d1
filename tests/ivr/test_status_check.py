"""The service-request status check, whole calls through the controller and the simulated
switch, against a GeoReport v2 server over real HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ivr_testing import Harness, number_with, running_harness
from rules_editing import with_own_open311

from ivr.ari.events import AriEvent, ChannelDtmfReceived
from routing_rules.decision import Transfer
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text
from switchsim.georeport import (
    MALFORMED_ID,
    SERVER_ERROR_ID,
    SLOW_ID,
    WRONG_TYPE_ID,
    GeoReportServer,
)

DEMO_SERVER = 'base_url: "http://127.0.0.1:8320/", budget_ms: 1500'
REQUEST_5678_READ_OUT = [
    "status-request",
    "digits:5678",
    "status-in-progress",
    "status-updated",
    "month-12",
    "number:2",
    "number:2026",
    "status-agent-offer",
]
"""What a caller hears of request 5678 (in progress, updated on 2 December 2026), then the
offer of an agent."""


@pytest.fixture
async def server() -> AsyncIterator[GeoReportServer]:
    async with GeoReportServer() as running:
        yield running


def durham_with(
    server: GeoReportServer, budget_ms: int = 300, own_servers: tuple[str, ...] = ()
) -> RuleSnapshot:
    """The Durham demo rules, Service Durham's Open311 server being ``server``; each of
    ``own_servers`` (municipality ids) runs one too, on the same server."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    assert DEMO_SERVER in text
    text = text.replace(DEMO_SERVER, f'base_url: "{server.base_url}/", budget_ms: {budget_ms}')
    text = text.replace("ring_timeout_s: 20", "ring_timeout_s: 5")
    for mun in own_servers:
        text = with_own_open311(text, mun, f"{server.base_url}/", budget_ms=budget_ms)
    return snapshot_from_text(text, default_geo(), source="test:durham-open311")


@pytest.fixture
async def harness(server: GeoReportServer) -> AsyncIterator[Harness]:
    """The Durham demo rules, Service Durham's Open311 server being ``server`` (budget 300 ms)."""
    async with running_harness(durham_with(server)) as running:
        yield running


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
    assert heard[heard.index("status-request") :] == REQUEST_5678_READ_OUT
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


@pytest.fixture
async def own_servers(server: GeoReportServer) -> AsyncIterator[Harness]:
    """As ``harness``, Pickering and Ajax running their own servers (``server`` too)."""
    async with running_harness(durham_with(server, own_servers=("pickering", "ajax"))) as running:
        yield running


async def at_status_menu(harness: Harness) -> str:
    """A caller on the exchange Ajax and Pickering share (the call does not know which)
    presses * in the greeting and hears the status menu to its end."""
    exchanges = harness.snapshot.geo.npa_nxx_by_exchange()
    call_id = harness.call(f"{exchanges['ajax-pickering'][0]}0123")
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "*")
    await harness.until(lambda: "menu-agent" in harness.heard(call_id))
    return call_id


async def test_a_caller_whose_municipality_is_unknown_picks_the_server_from_a_menu(
    own_servers: Harness,
) -> None:
    harness = own_servers
    call_id = await at_status_menu(harness)
    heard = harness.heard(call_id)
    assert heard[heard.index("status-menu-for") :] == [
        *("status-menu-for", "name-pickering", "menu-press", "digit-1"),
        *("status-menu-for", "name-ajax", "menu-press", "digit-2"),
        *("status-menu-for", "host-durham", "menu-press", "digit-3"),
        "menu-agent",
    ]
    harness.switch.press(call_id, "2")
    await harness.until(lambda: "status-ask" in harness.heard(call_id))
    for key in "5678#":
        harness.switch.press(call_id, key)
    await harness.until(lambda: "status-agent-offer" in harness.heard(call_id))
    await harness.expire(call_id, "status")
    record = await harness.ended(call_id)
    assert record["status_check"] == "found" and record["outcome"] == "message"
    assert any(
        t["evidence"] == "status menu: pressed 2" and t["result"] == "Ajax" for t in record["trace"]
    )


async def test_no_choice_at_the_status_menu_is_said_and_the_call_goes_on(
    own_servers: Harness, server: GeoReportServer
) -> None:
    harness = own_servers
    call_id = await at_status_menu(harness)
    await harness.expire(call_id, "menu")
    # Then the menu every caller of this exchange hears, which leads to a person.
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    heard = harness.heard(call_id)
    assert heard.index("no-input") < heard.index("menu-intro")
    assert server.asked == []
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["status_check"] == "no_choice"
    assert harness.metric("ivr311_status_checks_total", {"result": "no_choice"}) == 1


async def test_a_caller_who_switches_to_french_is_offered_the_check_in_french(
    harness: Harness,
) -> None:
    harness.switch.media_durations["sound:ivr311/key-star"] = 60.0
    call_id = harness.call(whitby_caller(harness))
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "9")
    plays = harness.record(call_id).plays
    await harness.until(lambda: plays[-1].lang == "fr_CA" and plays[-1].state == "playing")
    assert plays[-1].media == ("sound:ivr311/status-offer", "sound:ivr311/key-star")
    harness.switch.press(call_id, "*")
    await harness.until(lambda: "status-ask" in harness.heard(call_id))
    assert plays[-1].lang == "fr_CA"
    for key in "1234#":
        harness.switch.press(call_id, key)
    await harness.until(lambda: "status-agent-offer" in harness.heard(call_id))
    assert plays[-1].lang == "fr_CA"
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["language"] == "fr" and record["status_check"] == "found"


async def test_a_caller_who_hangs_up_during_the_look_up_ends_the_call_at_once(
    server: GeoReportServer,
) -> None:
    """The look-up runs without the call's lock: the hang-up is taken while the server is
    still thinking (a budget of 5 s, far from reached), and the request is abandoned."""
    async with running_harness(durham_with(server, budget_ms=5000)) as harness:
        call_id = await ask_status(harness, f"{SLOW_ID}#")
        await harness.wait(server.slow_started.wait())
        harness.switch.hangup_caller(call_id)
        record = await harness.ended(call_id)
        assert record["outcome"] == "caller_hangup"
        assert record["status_check"] is None
        await harness.wait(server.abandon_seen.wait())
        assert server.abandoned == [SLOW_ID]
        assert harness.nothing_left()


async def test_a_key_pressed_during_the_look_up_changes_nothing(
    server: GeoReportServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller presses 0 while the server is still thinking (held until the call has taken
    the key; a budget of 5 s, far from reached): the key is dropped, so the caller hears the
    status and the offer of an agent as any caller does, and the offer's time-out ends the
    call as it would have."""
    server.held = True
    async with running_harness(durham_with(server, budget_ms=5000)) as harness:
        call_id = await ask_status(harness, "5678#")
        await harness.wait(server.received.wait())
        call = harness.live(call_id)
        key_taken = asyncio.Event()
        handle = call.handle

        async def handle_noting_keys(event: AriEvent) -> None:
            await handle(event)
            if isinstance(event, ChannelDtmfReceived):
                key_taken.set()

        monkeypatch.setattr(call, "handle", handle_noting_keys)
        harness.switch.press(call_id, "0")
        await harness.wait(key_taken.wait())
        server.release()
        await harness.until(lambda: "status-agent-offer" in harness.heard(call_id))
        heard = harness.heard(call_id)
        assert heard[heard.index("status-ask") + 1 :] == REQUEST_5678_READ_OUT
        await harness.expire(call_id, "status")
        record = await harness.ended(call_id)
        assert record["outcome"] == "message" and record["status_check"] == "found"
        assert not harness.record(call_id).bridged_with
        assert server.asked == ["5678"]
