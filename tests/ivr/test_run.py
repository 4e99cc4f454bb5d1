"""``ivr311 run`` as a newcomer meets it: a fresh machine, the banner that says whether scripted
calls will hear menus now, and an Asterisk that is not there yet."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from ivr_testing import BUSINESS_HOURS, fast_settings

from ivr.agi.script import CHANNEL_VARIABLES
from ivr.controller.run import serve
from ivr.settings import Settings
from routing_rules.snapshot import (
    DEMO_DIR,
    RuleSnapshot,
    default_geo,
    load_snapshot,
    snapshot_from_text,
)
from routing_rules.storage.store import RuleStore
from switchsim.commands import scripted_switch
from switchsim.simulation import opening_hours_note

TORONTO = ZoneInfo("America/Toronto")
SATURDAY = datetime(2026, 11, 21, 10, 0, tzinfo=TORONTO)
CLOSED_BANNER = (
    "Service Durham is closed now (opens Mon 08:30 America/Toronto): scripted calls take the "
    "after-hours path; `ivr311 demo` plays the daytime tour"
)


@asynccontextmanager
async def running(
    settings: Settings, clock: Callable[[], datetime] = lambda: BUSINESS_HOURS
) -> AsyncIterator[str]:
    """``ivr311 run`` in this process until the block ends; yields the HTTP base URL."""
    stop = asyncio.Event()
    up = asyncio.Event()
    base: list[str] = []

    def started(_controller: object, url: str) -> None:
        base.append(url)
        up.set()

    server = asyncio.create_task(
        serve(
            settings,
            stop=stop,
            started=started,
            extensions=(),
            clock=clock,
            simulated=scripted_switch,
        )
    )
    try:
        await asyncio.wait_for(up.wait(), 30)
        yield base[0]
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)


async def test_a_fresh_machine_gets_a_seeded_store_and_the_banner_says_it_is_closed(
    state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run` on a fresh machine: the default store is created in the state directory and
    seeded with the Durham demo; on a Saturday the banner says every scripted call will take
    the after-hours path, and what to run to see the daytime paths."""
    async with running(fast_settings(sim_call_interval_s=3600), clock=lambda: SATURDAY):
        pass
    out = capsys.readouterr().out
    assert CLOSED_BANNER in out.splitlines()
    database = state_home / "ivr311" / "rules.db"
    store = RuleStore.open(f"sqlite:///{database}", create=False)
    try:
        assert store.active_version() == 1
    finally:
        store.close()


async def test_during_hours_the_banner_says_it_is_open(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running(fast_settings(sim_call_interval_s=3600), clock=lambda: BUSINESS_HOURS):
        pass
    assert (
        "Service Durham is open now (until Wed 16:30 America/Toronto): scripted calls hear the "
        "menus and reach the contact centres"
    ) in capsys.readouterr().out.splitlines()


@pytest.fixture(scope="module")
def durham_rules() -> RuleSnapshot:
    return load_snapshot("durham")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (SATURDAY, "closed now (opens Mon 08:30 America/Toronto)"),
        (datetime(2026, 11, 18, 16, 30, tzinfo=TORONTO), "closed now (opens Thu 08:30"),
        (datetime(2026, 11, 18, 8, 29, tzinfo=TORONTO), "closed now (opens Wed 08:30"),
        # Christmas Eve closes at noon; Christmas, the weekend and Boxing Day (observed on
        # Monday) follow.
        (datetime(2026, 12, 24, 11, 0, tzinfo=TORONTO), "open now (until Thu 12:00"),
        (datetime(2026, 12, 24, 13, 0, tzinfo=TORONTO), "closed now (opens Tue 08:30"),
    ],
)
def test_the_banner_follows_the_rules_own_schedule(
    durham_rules: RuleSnapshot, at: datetime, expected: str
) -> None:
    assert opening_hours_note(durham_rules, at).startswith(f"Service Durham is {expected}")


def test_an_override_without_expiry_is_named_in_the_banner() -> None:
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    off = '    emergency_override:\n      active: false\n      reason: ""\n'
    assert off in text
    closed = text.replace(off, "    emergency_override: {active: true, reason: ice storm}\n", 1)
    snapshot = snapshot_from_text(closed, default_geo(), source="test:override")
    assert opening_hours_note(snapshot, BUSINESS_HOURS).startswith(
        "Service Durham is closed now (emergency override (ice storm)): scripted calls take "
        "the after-hours path"
    )


async def test_asterisk_down_at_start_keeps_running_not_ready() -> None:
    """An Asterisk that cannot be reached at start is not a settings problem: the controller
    keeps retrying and says so on /readyz."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = fast_settings(
        ari_url=f"http://127.0.0.1:{port}", ari_user="ivr311", ari_password="secret"
    )
    async with (
        running(settings) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/readyz") as resp,
    ):
        assert resp.status == 503
        body = await resp.json()
    assert body["ari_connected"] is False
    assert body["rules_loaded"] is True


async def test_with_a_fastagi_address_run_answers_fastagi_from_its_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running(fast_settings(fastagi_listen="127.0.0.1:0")):
        banner = re.search(r"ivr311 fastagi: agi://127\.0\.0\.1:(\d+)", capsys.readouterr().out)
        assert banner is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", int(banner[1]))
        writer.write(b"agi_callerid: 9056230123\nagi_extension: 311\nagi_dnid: 311\n\n")
        commands = []
        while line := await reader.readline():
            commands.append(line.decode())
            writer.write(b"200 result=1\n")
        writer.close()
    assert len(commands) == len(CHANNEL_VARIABLES)
    assert commands[-2].startswith('SET VARIABLE "IVR311_ACTION" ')
    assert "error" not in commands[-2]
