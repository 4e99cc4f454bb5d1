"""The FastAGI server over real TCP on loopback, as Asterisk's ``AGI(agi://...)`` talks to it:
the same answers as ``ivr311-agi``, many sessions at once, bad clients closed without
affecting the others, and a new active rule version used by the next request."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import uvloop
from agi_testing import MONDAY_MORNING, SUNDAY, agi_env, agi_in_process
from fastagi_testing import (
    OK,
    argument_lines,
    closed_without_commands,
    request,
    server_in_thread,
)
from structured_log import production_log
from test_agi import apply_to, durham_answered_at

from ivr.agi import script
from ivr.agi.fastagi import FastAgiServer, Limits
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.snapshot import RuleSnapshot, default_geo, load_snapshot
from routing_rules.storage.store import RuleStore

CLARINGTON_AGENTS = "+19055550101"
SAFE_MESSAGE = "&".join(f"ivr311/{prompt}" for prompt in script.SAFE_MESSAGE)


@pytest.fixture(scope="module")
def durham() -> RuleSnapshot:
    return load_snapshot("durham")


@pytest.fixture(params=["asyncio", "uvloop"])
def new_loop(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """The server's event loop: asyncio's, and uvloop's, which ``ivr311 fastagi`` and
    ``ivr311 run`` run on (its transports and callbacks are its own)."""
    return uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop


@pytest.fixture
def server(
    durham: RuleSnapshot, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> Iterator[FastAgiServer]:
    with server_in_thread(lambda: durham, Limits(read_timeout_s=2.0), new_loop) as running:
        yield running


def fastagi_env(calling: str, arguments: tuple[str, ...] = (), extension: str = "311") -> bytes:
    """What Asterisk sends for ``AGI(agi://127.0.0.1:PORT,ARGUMENTS)``."""
    environment = agi_env(calling, extension).replace("ivr311-agi", "agi://127.0.0.1")
    network = "agi_network: yes\nagi_network_script: \n"
    return (network + environment[:-1]).encode() + argument_lines(arguments) + b"\n"


def at(when: datetime) -> tuple[str, str]:
    return ("--at", when.isoformat())


def script_answer(
    environment: str,
    arguments: tuple[str, ...],
    durham: RuleSnapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """``ivr311-agi ARGUMENTS`` with ``environment`` on stdin, its rules the same snapshot
    (loading them is tested on its own, and takes most of a call)."""
    monkeypatch.setattr(script, "load_rules", lambda *_: durham)
    code, variables = agi_in_process(environment.encode(), arguments, monkeypatch)
    assert code == 0
    return variables


def test_a_bowmanville_caller_gets_clarington_s_destination(server: FastAgiServer) -> None:
    assert server.port is not None
    conversation = request(server.port, fastagi_env("9056230123", at(MONDAY_MORNING)))
    variables = conversation.variables
    assert variables["IVR311_MUNICIPALITY"] == "clarington"
    assert variables["IVR311_DEST"] == CLARINGTON_AGENTS
    assert variables["IVR311_DIAL"] == f"PJSIP/{CLARINGTON_AGENTS}@contact-centres"
    assert variables["IVR311_ACTION"] == "agent"


def test_answers_equal_ivr311_agi_s_for_every_kind_of_caller(
    server: FastAgiServer, durham: RuleSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers from a spread of CO codes of the demo geodata, withheld and foreign numbers,
    in and out of hours, in English and French: the same variables in the same order."""
    assert server.port is not None
    codes = sorted(default_geo().codes())[::23]  # type: ignore[attr-defined]
    callers = [f"{code}0123" for code in codes] + ["anonymous", "", "+442071234567", "911"]
    checked = 0
    for when in (MONDAY_MORNING, SUNDAY):
        for n, calling in enumerate(callers):
            arguments = at(when) + (("--language", "fr") if n % 5 == 0 else ())
            expected = script_answer(agi_env(calling), arguments, durham, monkeypatch)
            got = request(server.port, fastagi_env(calling, arguments)).variables
            assert list(got.items()) == list(expected.items()), calling
            checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    "arguments",
    [("--at", "yesterday"), ("--language", "de"), ("--rules", "durham"), ("--database", "x")],
)
def test_wrong_arguments_get_the_error_answer(
    server: FastAgiServer, arguments: tuple[str, ...]
) -> None:
    """``--rules`` and ``--database`` are wrong here: the server answers from its own rules."""
    assert server.port is not None
    with production_log() as events:
        variables = request(server.port, fastagi_env("9056230123", arguments)).variables
    assert variables["IVR311_ACTION"] == "error"
    assert variables["IVR311_REASON"].startswith("error: WrongArguments")
    assert variables["IVR311_MESSAGE"] == SAFE_MESSAGE  # as ivr311-agi with wrong arguments
    assert [e["event"] for e in events if e["level"] == "error"] == ["fastagi.failed"]


def test_an_environment_missing_its_variables_is_answered_as_ivr311_agi_answers_it(
    server: FastAgiServer, durham: RuleSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert server.port is not None
    for environment in ("\n", "agi_network: yes\n\n", "agi_callerid: 9056230123\n\n"):
        expected = script_answer(environment, at(MONDAY_MORNING), durham, monkeypatch)
        sent = environment[:-1].encode() + argument_lines(at(MONDAY_MORNING)) + b"\n"
        assert request(server.port, sent).variables == expected
        assert expected["IVR311_DEST"] or expected["IVR311_MESSAGE"]


def test_before_any_rules_are_loaded_the_safe_message_is_the_answer(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    with server_in_thread(lambda: None, new_loop=new_loop) as running:
        assert running.port is not None
        variables = request(running.port, fastagi_env("9056230123")).variables
    assert variables["IVR311_ACTION"] == "error"
    assert variables["IVR311_DEST"] == ""
    assert variables["IVR311_MESSAGE"] == SAFE_MESSAGE


def test_a_logged_answer_carries_no_calling_number(server: FastAgiServer) -> None:
    assert server.port is not None
    with production_log() as events:
        request(server.port, fastagi_env("9056230123", at(MONDAY_MORNING)))
    answered = [e for e in events if e["event"] == "fastagi.answered"]
    assert len(answered) == 1
    assert answered[0]["caller"].startswith("905623-")
    assert "9056230123" not in str(events)


@pytest.mark.parametrize(
    ("sent", "event"),
    [
        (b"agi_network: yes\nagi_callerid: 90562", "fastagi.client_gone"),
        (b"\xff\xfe garbage without an end", "fastagi.client_gone"),
        (b"agi_callerid: " + b"9" * 20_000 + b"\n\n", "fastagi.line_too_long"),
        (b"x: y\n" * 600 + b"\n", "fastagi.environment_too_long"),
    ],
    ids=["gone-mid-request", "garbage-then-gone", "line-too-long", "too-many-lines"],
)
def test_a_bad_client_is_closed_and_the_next_one_is_answered(
    server: FastAgiServer, sent: bytes, event: str
) -> None:
    assert server.port is not None
    with production_log() as events:
        assert closed_without_commands(server.port, sent, half_close=True)
        variables = request(server.port, fastagi_env("9056230123", at(MONDAY_MORNING))).variables
    assert variables["IVR311_DEST"] == CLARINGTON_AGENTS
    assert event in [e["event"] for e in events]
    assert server.sessions == 0


@pytest.mark.parametrize(
    "reply",
    [b"510 Invalid or unknown command\n", b"HANGUP\n", b"520-Invalid command syntax.\n", b"\n"],
    ids=["unknown-command", "hangup", "usage-error", "blank"],
)
def test_a_reply_other_than_success_ends_the_session(server: FastAgiServer, reply: bytes) -> None:
    """Asterisk's error replies (or a hung-up channel): nothing more is sent on that channel."""
    assert server.port is not None
    with production_log() as events:
        conversation = request(server.port, fastagi_env("9056230123"), reply=reply)
    assert conversation.commands == 1
    assert "fastagi.reply_refused" in [e["event"] for e in events]


def test_a_silent_client_is_closed_after_the_read_timeout(
    durham: RuleSnapshot, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    with (
        server_in_thread(lambda: durham, Limits(read_timeout_s=0.2), new_loop) as running,
        production_log() as events,
    ):
        assert running.port is not None
        assert closed_without_commands(running.port, b"agi_network: yes\n")
    assert "fastagi.read_timeout" in [e["event"] for e in events]


def test_a_client_that_never_replies_is_closed_after_the_read_timeout(
    durham: RuleSnapshot, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    with (
        server_in_thread(lambda: durham, Limits(read_timeout_s=0.2), new_loop) as running,
        production_log() as events,
    ):
        assert running.port is not None
        conversation = request(running.port, fastagi_env("9056230123"), reply=None)
    assert conversation.commands == 1
    timeouts = [e for e in events if e["event"] == "fastagi.read_timeout"]
    assert [e["waiting_for"] for e in timeouts] == ["reply"]


def test_each_reply_has_the_read_timeout_from_its_own_command(
    durham: RuleSnapshot, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    """A session longer than the read timeout is answered in full while every reply comes
    within it: the deadline moves with each command."""
    with server_in_thread(lambda: durham, Limits(read_timeout_s=0.5), new_loop) as running:
        assert running.port is not None
        conversation = request(
            running.port, fastagi_env("9056230123", at(MONDAY_MORNING)), reply_after_s=0.1
        )
    assert conversation.commands == len(script.CHANNEL_VARIABLES)  # 0.9 s in all
    assert conversation.variables["IVR311_DEST"] == CLARINGTON_AGENTS


def test_beyond_max_sessions_a_connection_is_closed_at_once(
    durham: RuleSnapshot, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    with server_in_thread(lambda: durham, Limits(max_sessions=2), new_loop) as running:
        assert running.port is not None
        idle = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(2)]
        try:
            for sock in idle:  # each is in its session once its first line is read
                sock.sendall(b"agi_network: yes\n")
            while running.sessions < 2:
                closed_without_commands(running.port, b"")  # refused while the two wait
            assert closed_without_commands(running.port, b"")
        finally:
            for sock in idle:
                sock.close()
        variables = request(running.port, fastagi_env("9056230123", at(MONDAY_MORNING)))
    assert variables.variables["IVR311_DEST"] == CLARINGTON_AGENTS


async def _session(port: int, calling: str) -> dict[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(fastagi_env(calling, at(MONDAY_MORNING)))
        variables: dict[str, str] = {}
        while line := await reader.readline():
            name, _, value = line.decode().removeprefix("SET VARIABLE ").partition(" ")
            variables[name.strip('"')] = value.rstrip("\n").strip('"')
            writer.write(OK)
        return variables
    finally:
        writer.close()


async def test_200_concurrent_sessions_are_all_answered(durham: RuleSnapshot) -> None:
    server = FastAgiServer(lambda: durham)
    port = await server.start("127.0.0.1", 0)
    try:
        callers = [f"905623{n:04d}" for n in range(100)] + [f"905430{n:04d}" for n in range(100)]
        answers = await asyncio.gather(*(_session(port, calling) for calling in callers))
    finally:
        await server.close()
    assert len(answers) == 200
    assert all(a["IVR311_DEST"] == CLARINGTON_AGENTS for a in answers[:100])
    assert all(a["IVR311_ACTION"] not in {"error", ""} for a in answers)
    assert all(len(a) == len(script.CHANNEL_VARIABLES) for a in answers)


async def test_a_new_active_version_answers_the_next_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    store = await asyncio.to_thread(RuleStore.open, url)
    rules = RulesSource(store, metrics=Metrics(), poll_s=0.05)
    await rules.load()
    watcher = asyncio.create_task(rules.watch())
    server = FastAgiServer(lambda: rules.current)
    port = await server.start("127.0.0.1", 0)
    try:
        assert (await _session(port, "9056230123"))["IVR311_DEST"] == CLARINGTON_AGENTS
        async with rules.changed:
            await asyncio.to_thread(apply_to, url, durham_answered_at("+19055550188"))
            await asyncio.wait_for(rules.changed.wait(), timeout=30)
        assert (await _session(port, "9056230123"))["IVR311_DEST"] == "+19055550188"
    finally:
        await server.close()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        store.close()
