"""ARI requests sent on the event WebSocket (Asterisk 22.4 and later: REST over WebSocket).

A request sent as a ``RESTRequest`` frame on the socket the events already arrive on, and
answered by a ``RESTResponse`` frame on it, costs neither side an HTTP request: no pooled
connection to pick, no headers to write and parse, no HTTP worker thread woken in Asterisk.
It is the bulk of what a call costs the controller on a real Asterisk (`AriClient` sends a
request here whenever it can).

Asterisk carries out one socket's requests one at a time, in order. So a request that may
wait inside Asterisk (for the channel's own thread, as answering or setting a variable does;
for the network, as dialling does; for a module reload) goes over HTTP instead, where it
holds up nobody else's (`AriClient`'s ``may_wait``).

An Asterisk older than 22.4 reads client frames and ignores them; one whose application
event filter leaves ``RESTResponse`` out would carry requests out without answering. So each
socket is proved first: a ``GET /asterisk/ping`` on it must be answered within
``probe_timeout_s``, and until it is, requests go over HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import structlog

log = structlog.get_logger(__name__)

ANSWER_TYPE = "RESTResponse"
"""The type of Asterisk's answer frames; the application's event filter must allow it."""
_ANSWER_MARK = f'"{ANSWER_TYPE}"'
PROBE_PATH = "/asterisk/ping"


class SocketClosedError(ConnectionError):
    """The socket closed (or was never usable) before the request was answered."""


@dataclass(frozen=True, slots=True)
class SocketAnswer:
    status: int
    reason: str
    body: str | None
    """The answer's JSON text, None when it has none (204)."""


class SocketRequests:
    """The requests in flight on the current event socket.

    `AriEventStream` tells it when its reading loop runs on a socket (`opened`) and stops
    (`closed`), and offers it each text frame first (`take`). `available` says whether a
    request can go on the socket now.
    """

    def __init__(self, *, probe_timeout_s: float = 2.0, settle_timeout_s: float = 5.0) -> None:
        self._probe_timeout_s = probe_timeout_s
        self._settle_timeout_s = settle_timeout_s
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._proved = False
        self._settling = False
        self._pending: dict[str, asyncio.Future[SocketAnswer]] = {}
        self._ids = itertools.count(1)
        self._probe: asyncio.Task[None] | None = None
        self._probe_over = asyncio.Event()

    @property
    def available(self) -> bool:
        """A socket is open and has answered its probe."""
        ws = self._ws
        return self._proved and not self._settling and ws is not None and not ws.closed

    async def proved(self) -> bool:
        """Wait until a socket's probe is over; whether requests go on the socket."""
        await self._probe_over.wait()
        return self.available

    def opened(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The stream reads ``ws`` from now on: prove it."""
        self.closed()
        self._ws = ws
        self._probe = asyncio.get_running_loop().create_task(self._prove(ws), name="ari-probe")

    async def settle(self) -> None:
        """The stream is closing: send nothing more on the socket, and wait (at most
        ``settle_timeout_s``) for the answers to the requests in flight, which Asterisk
        carries out whether or not the socket stays open to answer them."""
        self._settling = True
        in_flight = [future for future in self._pending.values() if not future.done()]
        if in_flight:
            await asyncio.wait(in_flight, timeout=self._settle_timeout_s)

    def closed(self) -> None:
        """The stream no longer reads the socket: every request in flight fails."""
        self._ws = None
        self._proved = False
        self._probe_over.clear()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(SocketClosedError("the event socket closed"))

    def take(self, frame: str) -> bool:
        """Whether ``frame`` is an answer (resolved here), not an event."""
        if _ANSWER_MARK not in frame:
            return False
        try:
            data = orjson.loads(frame)
        except ValueError:
            return False
        if not isinstance(data, dict) or data.get("type") != ANSWER_TYPE:
            return False
        future = self._pending.pop(str(data.get("request_id", "")), None)
        if future is not None and not future.done():
            future.set_result(_answer_of(data))
        return True  # an answer nobody waits for any more (timed out) is dropped

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Mapping[str, Any] | None,
        timeout_s: float,
    ) -> SocketAnswer:
        """Send one request on the socket and wait for its answer; `SocketClosedError` when
        the socket closes first, `TimeoutError` after ``timeout_s``."""
        ws = self._ws
        if ws is None or ws.closed:
            raise SocketClosedError("no event socket")
        request_id = str(next(self._ids))
        frame: dict[str, Any] = {
            "type": "RESTRequest",
            "request_id": request_id,
            "transaction_id": request_id,
            "method": method,
            "uri": path.lstrip("/"),
        }
        if params:
            frame["query_strings"] = [{"name": k, "value": str(v)} for k, v in params.items()]
        if body is not None:
            frame["content_type"] = "application/json"
            frame["message_body"] = orjson.dumps(body).decode()
        future: asyncio.Future[SocketAnswer] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            async with asyncio.timeout(timeout_s):
                await ws.send_str(orjson.dumps(frame).decode())
                return await future
        except (ConnectionError, RuntimeError) as exc:
            # aiohttp raises ConnectionResetError (or RuntimeError on older versions) when
            # sending on a closing socket
            raise SocketClosedError(str(exc) or type(exc).__name__) from exc
        finally:
            self._pending.pop(request_id, None)

    async def _prove(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Send the probe on ``ws``, the socket just opened; requests go there once it is
        answered."""
        try:
            answer = await self.request("GET", PROBE_PATH, None, None, self._probe_timeout_s)
        except (SocketClosedError, TimeoutError):
            log.info(
                "ari.requests_over_http",
                reason=f"no answer on the event socket within {self._probe_timeout_s:g} s "
                "(Asterisk before 22.4)",
            )
        else:
            if answer.status >= 400:
                log.info("ari.requests_over_http", reason=f"probe answered {answer.status}")
            elif ws is self._ws:
                self._proved = True
                log.info("ari.requests_over_socket")
        finally:
            if ws is self._ws:
                self._probe_over.set()


def _answer_of(data: dict[str, Any]) -> SocketAnswer:
    """The answer a ``RESTResponse`` frame carries; one without a status reads as Asterisk
    failing the request (502)."""
    status, body = data.get("status_code"), data.get("message_body")
    if not isinstance(status, int) or isinstance(status, bool):
        return SocketAnswer(502, "answer without a status", None)
    return SocketAnswer(
        status, str(data.get("reason_phrase", "")), body if isinstance(body, str) and body else None
    )
