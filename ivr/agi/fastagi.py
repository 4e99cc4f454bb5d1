"""The FastAGI server: ``ivr311-agi``'s answers over TCP (``AGI(agi://127.0.0.1:4573)``),
from rules and a geographic index held in memory instead of a process per call.

The AGI protocol as an asyncio protocol: Asterisk sends its environment (``agi_*: value``
lines, the arguments of ``AGI()`` as ``agi_arg_1``, ``agi_arg_2``, ... , then a blank line); the
server sends one ``SET VARIABLE "NAME" "value"`` per variable and reads each reply
(``200 result=1``), then closes the connection. Lines are split as the bytes arrive, with no
task or stream reader per session: a coroutine step per line and a timeout context per reply
cost more than a kept answer (some 20 µs). The answer is `ivr.agi.script.answer`, the same
function ``ivr311-agi`` calls, so both give the same variables for the same environment and
arguments (``--rules`` and ``--database`` excepted: the server answers from the rules it
follows); where the rules allow it, it is decided once per NPA-NXX and minute
(`ivr.agi.kept_answers`).

Each session is bounded so that no client can stall the server or another session: a line longer
than `Limits.max_line_bytes`, more than `Limits.max_env_lines` lines, an environment or a reply
not complete within `Limits.read_timeout_s`, a client gone before the blank line, or a reply
that is not ``200 result=1`` (``510`` for an unknown command, ``HANGUP``, garbage) closes that
connection and logs one event. Beyond `Limits.max_sessions` at once a new connection is closed
at once: ``AGI()`` then sets no variable and the README's dialplan takes the controller-free
fallback. Logs carry the calling number's NPA-NXX and a keyed hash, never the number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import structlog

from geo.calling_number import redact_calling_number
from ivr.agi.kept_answers import KeptAnswers
from ivr.agi.script import (
    DEFAULT_DIAL_ENDPOINT,
    AgiAnswer,
    answer,
    arguments_parser,
    log_failure,
    parse_arguments,
)
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)

DEFAULT_LISTEN = "127.0.0.1:4573"
"""Where ``ivr311 fastagi`` listens unless told otherwise (4573 is FastAGI's port)."""

_ENCODING = "utf-8"
_REPLY_OK = b"200 result=1"
_PARSED_KEPT = 64
"""Distinct argument lists whose parsing is kept (see `FastAgiServer._arguments`)."""
_WARM_UP_CALL = {"agi_extension": "311", "agi_callerid": "6135550123"}
"""The call answered, and not sent, before listening (see `FastAgiServer.start`)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one session may take of the server."""

    read_timeout_s: float = 5.0
    """Longest wait for the client's whole environment, then for each reply."""
    max_sessions: int = 1000
    """Sessions served at once; a connection beyond them is closed at once. Also the listen
    backlog: with asyncio's default (100), connections beyond it in one instant wait for the
    client's SYN retry, a second later."""
    max_line_bytes: int = 8192
    """Longest line accepted (Asterisk's own AGI lines are at most 2 KiB)."""
    max_env_lines: int = 512
    """Most environment lines, its blank last line included (Asterisk sends about 25, plus one
    per argument)."""


class RulesNotLoaded(Exception):
    """No rule set is active yet: the answer is the failure variables."""


class _SessionEnded(Exception):
    """The client is gone or broke the protocol; the event to log and its fields."""

    def __init__(self, event: str, **fields: object) -> None:
        super().__init__(event)
        self.event = event
        self.fields = fields


def environment_entry(line: str) -> tuple[str, str] | None:
    """One line of the AGI environment as (key, value), or None for a line without a key;
    read as ``ivr311-agi`` (pyst2) reads it, so both see the same environment."""
    key, _, value = line.partition(":")
    key = key.strip()
    return (key, value.strip()) if key else None


def agi_arguments(env: dict[str, str]) -> list[str]:
    """The arguments of ``AGI(agi://...,ARG1,ARG2,...)``: ``agi_arg_1``, ``agi_arg_2``, ..."""
    arguments: list[str] = []
    while (value := env.get(f"agi_arg_{len(arguments) + 1}")) is not None:
        arguments.append(value)
    return arguments


def set_variable_command(name: str, value: str) -> bytes:
    """The command ``ivr311-agi`` sends for one variable (pyst2's quoting: the values never
    hold a double quote, see `ivr.agi.script.agi_value`)."""
    return f'SET VARIABLE "{name}" "{value}"\n'.encode(_ENCODING)


class FastAgiServer:
    """Answers AGI requests from ``rules()``, the snapshot active at the time of each request."""

    def __init__(
        self,
        rules: Callable[[], RuleSnapshot | None],
        *,
        dial_endpoint: str = DEFAULT_DIAL_ENDPOINT,
        limits: Limits | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        """``hash_key`` keys the calling-number hash in logs (default: random per server)."""
        self._rules = rules
        self._parser = arguments_parser(
            "AGI(agi://...)", rules_options=False, dial_endpoint=dial_endpoint
        )
        self.limits = limits or Limits()
        self._hash_key = hash_key or os.urandom(32)
        self.port: int | None = None
        """The port listened on, once `start` returned."""
        self._server: asyncio.Server | None = None
        self._parsed: dict[tuple[str, ...], argparse.Namespace] = {}
        self._sessions: set[_AgiSession] = set()
        self._kept = KeptAnswers()

    @property
    def sessions(self) -> int:
        """Sessions in progress."""
        return len(self._sessions)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (port 0: any free one); the port listened on. One answer
        is made first, unsent, so that the first caller does not wait for what the decision
        loads on first use (modules, phone-number metadata)."""
        args, _ = parse_arguments(self._parser, [])
        answer(_WARM_UP_CALL, args, self._current_rules)
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _AgiSession(self),
            host,
            port,
            reuse_address=True,
            backlog=self.limits.max_sessions,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end the sessions in progress."""
        if self._server is None:
            return
        self._server.close()
        for session in list(self._sessions):
            session.abort()
        await self._server.wait_closed()

    def opened(self, session: _AgiSession) -> bool:
        """Take a new session in; False (logged) when `Limits.max_sessions` are in progress."""
        if len(self._sessions) >= self.limits.max_sessions:
            log.warning("fastagi.busy", sessions=len(self._sessions))
            return False
        self._sessions.add(session)
        return True

    def ended(self, session: _AgiSession) -> None:
        self._sessions.discard(session)

    def answer(self, env: dict[str, str]) -> AgiAnswer:
        """The variables for one environment (a failure logged, its variables answered)."""
        arguments = tuple(agi_arguments(env))
        args, refused = self._arguments(arguments)
        if refused is None:
            result = self._kept.answer(env, args, self._current_rules)
        else:
            result = answer(env, args, self._current_rules, refused)
        if result.failure is not None:
            log_failure("fastagi.failed", result.failure, rules_read=result.rules_read)
        return result

    def log_answer(self, env: dict[str, str], result: AgiAnswer, started: float) -> None:
        with contextlib.suppress(Exception):  # the answer is given: a log field cannot undo it
            log.info(
                "fastagi.answered",
                action=result.variables.get("IVR311_ACTION"),
                destination=result.variables.get("IVR311_DEST_ID"),
                caller=redact_calling_number(env.get("agi_callerid"), self._hash_key),
                ms=round((time.perf_counter() - started) * 1000, 2),
            )

    def _current_rules(self) -> RuleSnapshot:
        snapshot = self._rules()
        if snapshot is None:
            raise RulesNotLoaded("no active rule set is loaded yet")
        return snapshot

    def _arguments(self, arguments: tuple[str, ...]) -> tuple[argparse.Namespace, Exception | None]:
        """`parse_arguments`, the parsed arguments of a dialplan kept (most sites use one or
        two, and parsing takes a tenth of an answer). Wrong ones are parsed each time: a
        raised exception would carry every traceback it was raised with."""
        parsed = self._parsed.get(arguments)
        if parsed is not None:
            return parsed, None
        args, refused = parse_arguments(self._parser, list(arguments))
        if refused is None and len(self._parsed) < _PARSED_KEPT:
            self._parsed[arguments] = args
        return args, refused


class _AgiSession(asyncio.Protocol):
    """One AGI conversation: the environment's lines, the answer, then one command per variable,
    each sent once the reply to the one before is ``200 result=1``.

    One timer per session keeps the read deadline: the environment must be complete within
    `Limits.read_timeout_s` of the connection, each reply within it of its command. Moving the
    deadline sets a number; the timer, when it fires early, waits for the rest.
    """

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        self._limits = server.limits
        self._transport: asyncio.Transport | None = None
        self._started = time.perf_counter()
        self._partial = b""
        self._env: dict[str, str] = {}
        self._env_lines = 0
        self._result: AgiAnswer | None = None
        self._to_send: Iterator[tuple[str, str]] = iter(())
        self._sent: str | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        if not self._server.opened(self):
            self._done = True
            self._transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._limits.read_timeout_s
        self._timer = loop.call_at(self._deadline, self._timer_fired)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        try:
            *lines, self._partial = (self._partial + data).split(b"\n")
            for line in lines:
                self._check_length(line)
                self._line(line.rstrip(b"\r"))
                if self._done:
                    return
            self._check_length(self._partial)
        except _SessionEnded as ended:
            self._end(ended.event, **ended.fields)
        except Exception as exc:  # a bug must end this session only, never the server
            log_failure("fastagi.session_failed", exc)
            self._finish()

    def eof_received(self) -> bool:
        self._end("fastagi.client_gone", waiting_for=self._waiting_for)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("fastagi.client_gone", waiting_for=self._waiting_for)

    def abort(self) -> None:
        """End the session without a word (the server is closing)."""
        self._finish()

    @property
    def _waiting_for(self) -> str:
        return "environment" if self._result is None else "reply"

    def _check_length(self, line: bytes) -> None:
        if len(line) > self._limits.max_line_bytes:
            raise _SessionEnded(
                "fastagi.line_too_long",
                waiting_for=self._waiting_for,
                limit=self._limits.max_line_bytes,
            )

    def _line(self, line: bytes) -> None:
        if self._result is not None:
            self._reply(line)
            return
        self._env_lines += 1
        text = line.decode(_ENCODING, "replace").strip()
        if not text:
            self._answer()
            return
        if self._env_lines >= self._limits.max_env_lines:
            raise _SessionEnded("fastagi.environment_too_long", lines=self._limits.max_env_lines)
        entry = environment_entry(text)
        if entry is not None:
            self._env[entry[0]] = entry[1]

    def _answer(self) -> None:
        self._result = self._server.answer(self._env)
        self._to_send = iter(self._result.variables.items())
        self._send_next()

    def _reply(self, line: bytes) -> None:
        if not line.startswith(_REPLY_OK):
            reply_text = line[:40].decode(_ENCODING, "replace")
            raise _SessionEnded("fastagi.reply_refused", variable=self._sent, reply=reply_text)
        self._send_next()

    def _send_next(self) -> None:
        assert self._transport is not None and self._result is not None
        variable = next(self._to_send, None)
        if variable is None:
            self._server.log_answer(self._env, self._result, self._started)
            self._finish()
            return
        self._sent = variable[0]
        self._transport.write(set_variable_command(*variable))
        self._deadline = asyncio.get_running_loop().time() + self._limits.read_timeout_s

    def _timer_fired(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._timer_fired)
            return
        self._end("fastagi.read_timeout", waiting_for=self._waiting_for)

    def _end(self, event: str, **fields: object) -> None:
        """Log why the session ends, once, and end it."""
        if self._done:
            return
        log.warning(event, **fields)
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        self._server.ended(self)
        if self._transport is not None:
            self._transport.abort()
