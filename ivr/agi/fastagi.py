"""The FastAGI server: ``ivr311-agi``'s answers over TCP (``AGI(agi://127.0.0.1:4573)``),
from rules and a geographic index held in memory instead of a process per call.

The AGI protocol over asyncio streams: Asterisk sends its environment (``agi_*: value`` lines,
the arguments of ``AGI()`` as ``agi_arg_1``, ``agi_arg_2``, ... , then a blank line); the server
sends one ``SET VARIABLE "NAME" "value"`` per variable and reads each reply (``200 result=1``),
then closes the connection. The answer is `ivr.agi.script.answer`, the same function
``ivr311-agi`` calls, so both give the same variables for the same environment and arguments
(``--rules`` and ``--database`` excepted: the server answers from the rules it follows); where
the rules allow it, it is decided once per NPA-NXX and minute (`ivr.agi.kept_answers`).

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
from collections.abc import Callable
from dataclasses import dataclass

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
    """Most environment lines (Asterisk sends about 25, plus one per argument)."""


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
        self.sessions = 0
        self.port: int | None = None
        """The port listened on, once `start` returned."""
        self._server: asyncio.Server | None = None
        self._parsed: dict[tuple[str, ...], argparse.Namespace] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._kept = KeptAnswers()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (port 0: any free one); the port listened on. One answer
        is made first, unsent, so that the first caller does not wait for what the decision
        loads on first use (modules, phone-number metadata)."""
        args, _ = parse_arguments(self._parser, [])
        answer(_WARM_UP_CALL, args, self._current_rules)
        self._server = await asyncio.start_server(
            self._accept,
            host,
            port,
            limit=self.limits.max_line_bytes,
            reuse_address=True,
            backlog=self.limits.max_sessions,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end the sessions in progress."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _current_rules(self) -> RuleSnapshot:
        snapshot = self._rules()
        if snapshot is None:
            raise RulesNotLoaded("no active rule set is loaded yet")
        return snapshot

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.sessions >= self.limits.max_sessions:
            log.warning("fastagi.busy", sessions=self.sessions)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.sessions += 1
        try:
            await self._session(reader, writer)
        except _SessionEnded as ended:
            log.warning(ended.event, **ended.fields)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.warning("fastagi.client_gone")
        except Exception as exc:  # a bug must end this session only, never the server
            log_failure("fastagi.session_failed", exc)
        finally:
            self.sessions -= 1
            self._tasks.discard(task)
            writer.transport.abort()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter()
        env = await self._environment(reader)
        arguments = tuple(agi_arguments(env))
        args, refused = self._arguments(arguments)
        if refused is None:
            result = self._kept.answer(env, args, self._current_rules)
        else:
            result = answer(env, args, self._current_rules, refused)
        if result.failure is not None:
            log_failure("fastagi.failed", result.failure, rules_read=result.rules_read)
        for name, value in result.variables.items():
            writer.write(set_variable_command(name, value))
            reply = await self._reply(reader)
            if not reply.startswith(b"200 result=1"):
                reply_text = reply[:40].decode(_ENCODING, "replace")
                raise _SessionEnded("fastagi.reply_refused", variable=name, reply=reply_text)
        self._log_answer(env, result, started)

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

    async def _environment(self, reader: asyncio.StreamReader) -> dict[str, str]:
        """The environment, which must be complete within the read timeout."""
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(self.limits.read_timeout_s):
                for _ in range(self.limits.max_env_lines):
                    line = await self._line(reader, "environment")
                    text = line.decode(_ENCODING, "replace").strip()
                    if not text:
                        return env
                    entry = environment_entry(text)
                    if entry is not None:
                        env[entry[0]] = entry[1]
        except TimeoutError:
            raise _SessionEnded("fastagi.read_timeout", waiting_for="environment") from None
        raise _SessionEnded("fastagi.environment_too_long", lines=self.limits.max_env_lines)

    async def _reply(self, reader: asyncio.StreamReader) -> bytes:
        """Asterisk's reply to a command, within the read timeout."""
        try:
            async with asyncio.timeout(self.limits.read_timeout_s):
                return await self._line(reader, "reply")
        except TimeoutError:
            raise _SessionEnded("fastagi.read_timeout", waiting_for="reply") from None

    async def _line(self, reader: asyncio.StreamReader, waiting_for: str) -> bytes:
        """The client's next line, without its end; ends the session on a line too long, or
        a client gone before it finished the line."""
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise _SessionEnded(
                "fastagi.line_too_long", waiting_for=waiting_for, limit=self.limits.max_line_bytes
            ) from None
        except asyncio.IncompleteReadError:
            raise _SessionEnded("fastagi.client_gone", waiting_for=waiting_for) from None
        return line.rstrip(b"\r\n")

    def _log_answer(self, env: dict[str, str], result: AgiAnswer, started: float) -> None:
        with contextlib.suppress(Exception):  # the answer is given: a log field cannot undo it
            log.info(
                "fastagi.answered",
                action=result.variables.get("IVR311_ACTION"),
                destination=result.variables.get("IVR311_DEST_ID"),
                caller=redact_calling_number(env.get("agi_callerid"), self._hash_key),
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
