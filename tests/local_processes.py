"""Two helpers for tests and benchmarks that start external processes on loopback (Asterisk,
Kamailio, SIPp, the project's own servers): a port free for them, and polling until they are
in a state the caller waits for.

Importable from every test folder as ``from local_processes import ...`` (pytest puts
``tests/`` on ``sys.path`` for its ``conftest.py``); benchmarks put ``tests/`` on ``sys.path``
themselves.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.1


def free_port(address: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``address`` (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port on {address}")


def wait_until(condition: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``condition`` every `POLL_S` until it returns something true, and return that;
    AssertionError naming ``what`` after ``timeout_s`` (a bound against hanging, not a timed
    assertion: external processes give no event to wait on)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)
