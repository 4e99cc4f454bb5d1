"""Draining one node for a rolling upgrade: ``POST /api/drain`` and ``ivr311 drain`` against
``ivr311 run`` (its HTTP server and admin API on loopback, the simulated switch, the calls'
timers on a virtual clock). New calls go to the fallback context, calls in progress finish, the
node says not ready and stays up until it is stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ivr_testing import (
    BUSINESS_HOURS,
    GREETING,
    TIMEOUT_S,
    Harness,
    LogLines,
    fast_settings,
    inside_number,
)
from virtual_clock import VirtualClock

from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.controller.run import serve
from ivr.settings import Settings
from ivr311.cli import build_parser
from switchsim import FakeSwitch, Outcome
from switchsim.simulation import simulated_controller

TOKEN = "drain-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FALLBACK = ("ivr311-fallback", "311", 1)


@dataclass
class Node:
    """``ivr311 run`` in this process: its calls (`Harness`), its HTTP base URL, its stop."""

    harness: Harness
    base: str
    http: aiohttp.ClientSession
    server: asyncio.Task[None]
    stop: asyncio.Event

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}{path}") as response:
            return response.status, await response.json()

    async def post(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}{path}", headers=headers) as response:
            return response.status, await response.json()

    async def bridged_call(self) -> str:
        """A caller inside one municipality, skipping the greeting, talking to its centre."""
        harness = self.harness
        call_id = harness.call(inside_number(harness.snapshot))
        await harness.skip_greeting(call_id)
        await harness.until(lambda: bool(harness.record(call_id).bridged_with))
        return call_id


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """A node whose calls have 30 s to finish once it drains (the tests end them sooner)."""
    settings = fast_settings(
        database_url=f"sqlite:///{tmp_path / 'rules.db'}", admin_token=TOKEN, drain_timeout_s=30
    )
    timers = VirtualClock()
    switch = FakeSwitch(
        playback_s=0.02,
        media_durations={GREETING: 60.0},
        default_outcome=Outcome(kind="answer", press="1"),
    )
    harnesses: list[Harness] = []
    up = asyncio.Event()
    base: list[str] = []

    @asynccontextmanager
    async def on_switch(
        settings: Settings, rules: RulesSource, clock: Any
    ) -> AsyncIterator[Controller]:
        async with simulated_controller(
            settings, rules, switch=switch, clock=clock, scheduler=timers
        ) as (fake, controller):
            assert rules.current is not None
            harnesses.append(Harness(fake, controller, rules.current, [BUSINESS_HOURS], timers))
            yield controller

    def started(_controller: Controller, url: str) -> None:
        base.append(url)
        up.set()

    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(
            settings,
            stop=stop,
            started=started,
            clock=lambda: BUSINESS_HOURS,
            simulated=on_switch,
        )
    )
    try:
        await asyncio.wait_for(up.wait(), 30)
        async with aiohttp.ClientSession() as http:
            yield Node(harnesses[0], base[0], http, server, stop)
    finally:
        stop.set()
        await asyncio.wait_for(server, 60)
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)


async def test_a_drained_node_takes_no_new_call_and_lets_the_one_in_progress_finish(
    logged: LogLines, node: Node
) -> None:
    harness = node.harness
    in_progress = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(in_progress)

    status, body = await node.post("/api/drain", AUTH)
    assert (status, body) == (202, {"draining": True, "calls_in_progress": 1, "drained": False})
    assert [e["action"] for e in logged if e["event"] == "admin.change"] == ["drain"]
    status, ready = await node.get("/readyz")
    assert status == 503 and ready["accepting_calls"] is False

    late = harness.call(inside_number(harness.snapshot))
    await harness.until(lambda: harness.record(late).continued_to is not None)
    assert harness.record(late).continued_to == FALLBACK, "the dialplan routes it, or a peer"
    assert not harness.record(late).destroyed
    assert harness.requests_for(late, "answer") == 0  # the controller leaves it as it came

    harness.switch.press(in_progress, "1")  # the caller goes on to their centre
    await harness.until(lambda: bool(harness.record(in_progress).bridged_with))
    harness.switch.hangup_caller(in_progress)
    record = await harness.ended(in_progress)
    assert record["outcome"] == "completed"
    assert harness.record(in_progress).continued_to is None

    status, body = await node.get("/api/drain")
    assert (status, body) == (200, {"draining": True, "calls_in_progress": 0, "drained": True})
    assert await node.post("/api/drain", AUTH) == (202, body), "draining again changes nothing"
    assert not node.server.done(), "drained through the API, the process stays up ..."
    status, _ = await node.get("/readyz")
    assert status == 503, "... and not ready"
    assert (await node.get("/healthz"))[0] == 200

    os.kill(os.getpid(), signal.SIGTERM)  # ... until it is stopped
    await asyncio.wait_for(node.server, TIMEOUT_S)


async def test_drain_needs_the_admin_token(node: Node) -> None:
    status, body = await node.post("/api/drain")
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = await node.post("/api/drain", {"Authorization": "Bearer wrong"})
    assert (status, body["error"]) == (403, "forbidden")
    assert await node.get("/api/drain") == (
        200,
        {"draining": False, "calls_in_progress": 0, "drained": False},
    )
    assert (await node.get("/readyz"))[0] == 200


async def test_ivr311_drain_wait_shows_the_calls_left_until_none_is(node: Node) -> None:
    first = await node.bridged_call()
    second = await node.bridged_call()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "ivr311.cli", "drain", "--url", node.base, "--wait"),
        env={**env, "IVR311_ADMIN_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert command.stdout is not None and command.stderr is not None

    async def line() -> str:
        assert command.stdout is not None
        return (await asyncio.wait_for(command.stdout.readline(), 60)).decode().rstrip("\n")

    try:
        assert await line() == f"{node.base}: draining, 2 calls in progress"
        node.harness.switch.hangup_caller(first)
        assert await line() == f"{node.base}: 1 call in progress"
        node.harness.switch.hangup_caller(second)
        assert await line() == f"{node.base}: 0 calls in progress"
        assert await line() == (
            f"{node.base}: drained; the controller takes no calls and can be stopped"
        )
        assert await asyncio.wait_for(command.wait(), 60) == 0
        assert await command.stderr.read() == b""
    finally:
        if command.returncode is None:
            command.kill()
            await command.wait()


async def run_drain(
    capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[str], list[str]]:
    """``ivr311 drain ARGV`` in a thread of this process: its exit status, its stdout lines and
    its stderr lines (a test with a node takes its log lines away with the ``logged`` fixture)."""
    args = build_parser().parse_args(["drain", *argv])
    code: int = await asyncio.to_thread(args.handler, args)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


async def test_ivr311_drain_with_a_wrong_token_says_so(
    logged: LogLines, node: Node, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text("not-the-token\n", encoding="utf-8")
    code, _, err = await run_drain(capsys, "--url", node.base, "--token-file", str(token))
    assert code == 1
    assert err == [
        f"error: {node.base}/api/drain: the admin token is not valid (HTTP 403)",
    ]
    assert not node.harness.controller.draining


async def test_ivr311_drain_wait_gives_up_after_its_timeout_and_the_drain_goes_on(
    logged: LogLines,
    node: Node,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await node.bridged_call()
    monkeypatch.setenv("IVR311_ADMIN_TOKEN", TOKEN)
    code, out, err = await run_drain(capsys, "--url", node.base, "--wait", "--timeout", "0.2")
    assert code == 1
    assert out == [f"{node.base}: draining, 1 call in progress"]
    assert err == [f"error: {node.base}: 1 call still in progress after 0.2 s (the drain goes on)"]
    assert node.harness.controller.draining
    node.harness.switch.hangup_caller(call_id)
    await node.harness.ended(call_id)


async def test_ivr311_drain_names_a_controller_it_cannot_reach(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("IVR311_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("IVR311_HTTP_LISTEN", f"0.0.0.0:{port}")
    code, _, err = await run_drain(capsys, "--wait")
    assert code == 1
    assert err == [
        f"error: cannot reach the controller at http://127.0.0.1:{port}: connection refused "
        "(is ivr311 run listening there?)"
    ]


@pytest.mark.parametrize("timeout", ["0", "-5", "soon", "nan", "inf"])
def test_ivr311_drain_refuses_a_bad_timeout(
    timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["drain", "--wait", "--timeout", timeout])
    assert exited.value.code == 2
    assert (
        f"argument --timeout: expected a number of seconds above 0, got {timeout!r}"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timeout", "5"], "error: --timeout counts the wait: give --wait too"),
        (
            ["--url", "localhost:8311"],
            "error: --url: expected http://HOST:PORT, got 'localhost:8311'",
        ),
    ],
)
async def test_ivr311_drain_refuses_bad_arguments(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVR311_ADMIN_TOKEN", TOKEN)
    assert await run_drain(capsys, *argv) == (2, [], [message])


async def test_ivr311_drain_without_a_token_says_where_to_put_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVR311_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("IVR311_ADMIN_TOKEN_FILE", raising=False)
    assert await run_drain(capsys) == (
        2,
        [],
        [
            "error: no admin token: give --token-file FILE, or set IVR311_ADMIN_TOKEN or "
            "IVR311_ADMIN_TOKEN_FILE"
        ],
    )
