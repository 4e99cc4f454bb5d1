"""Talking to the FastAGI server as Asterisk does, over TCP on loopback: the environment (with
the arguments of ``AGI()`` as ``agi_arg_N``), then ``200 result=1`` to each command."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ivr.agi.fastagi import FastAgiServer, Limits
from routing_rules.snapshot import RuleSnapshot

_SET = re.compile(rb'^SET VARIABLE "([A-Z0-9_]+)" "(.*)"$')
OK = b"200 result=1\n"


def argument_lines(arguments: Sequence[str]) -> bytes:
    """``AGI(agi://...,ARG1,ARG2)``'s arguments as Asterisk sends them."""
    return b"".join(
        f"agi_arg_{n}: {value}\n".encode() for n, value in enumerate(arguments, start=1)
    )


@dataclass
class Conversation:
    """What a client saw: the variables set (in order), and whether the server closed the
    connection once done."""

    variables: dict[str, str]
    commands: int


def read_commands(
    sock: socket.socket, reply: bytes | None = OK, reply_after_s: float = 0.0
) -> Conversation:
    """Answer each command with ``reply`` (``reply_after_s`` after it came; None: never) until
    the server closes the connection."""
    variables: dict[str, str] = {}
    commands = 0
    stream = sock.makefile("rb")
    while line := stream.readline():
        commands += 1
        match = _SET.match(line.rstrip(b"\n"))
        assert match, f"not a SET VARIABLE command: {line!r}"
        variables[match[1].decode()] = match[2].decode()
        if reply is not None:
            time.sleep(reply_after_s)  # the client's pace: the server's deadline is under test
            sock.sendall(reply)
    return Conversation(variables, commands)


def request(
    port: int, environment: bytes, reply: bytes | None = OK, reply_after_s: float = 0.0
) -> Conversation:
    """One AGI request (``environment`` ends with its blank line), blocking."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(environment)
        return read_commands(sock, reply, reply_after_s)


def closed_without_commands(port: int, sent: bytes, *, half_close: bool = False) -> bool:
    """Send ``sent`` (and, with ``half_close``, nothing more); True when the server closes
    the connection without sending a command."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(sent)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            return sock.recv(1) == b""
        except OSError:  # reset, or not connected any more: closed while we were still sending
            return True


@contextmanager
def server_in_thread(
    rules: Callable[[], RuleSnapshot | None],
    limits: Limits | None = None,
    new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
) -> Iterator[FastAgiServer]:
    """A FastAGI server on its own event loop (``new_loop()``) in a thread, for blocking
    clients."""
    loop = new_loop()
    server = FastAgiServer(rules, limits=limits)
    loop.run_until_complete(server.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
