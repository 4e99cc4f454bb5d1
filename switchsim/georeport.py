"""A GeoReport v2 server for tests and the demo: ``GET /requests/{id}.json`` over real HTTP.

Written from the Open311 GeoReport v2 specification ("GET Service Request"): the answer is a
JSON array holding the request, a number it does not know is a 404 with the specification's
error array, and a ``jurisdiction_id`` other than the server's is a 404 too. Besides the
requests it holds, some request numbers misbehave the way real servers do, so a caller's path
through each failure can be tested: see `SCENARIOS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLOW_ID = "9001"
"""Answers only after `GeoReportServer.slow_s` (longer than any budget the rules allow);
`GeoReportServer.slow_started` is set once it waits, `abandoned` lists it when the client
goes away first."""
SERVER_ERROR_ID = "9500"
"""Answers HTTP 500."""
MALFORMED_ID = "9400"
"""Answers ``application/json`` that is not JSON."""
WRONG_TYPE_ID = "9415"
"""Answers an HTML page (a login page or a proxy's error page, say) with status 200."""
SCENARIOS: Mapping[str, str] = {
    SLOW_ID: "slow",
    SERVER_ERROR_ID: "500",
    MALFORMED_ID: "malformed JSON",
    WRONG_TYPE_ID: "wrong content type",
}

DEMO_REQUESTS: tuple[dict[str, Any], ...] = (
    {
        "service_request_id": "1234",
        "status": "open",
        "status_notes": None,
        "service_name": "Pothole",
        "service_code": "001",
        "requested_datetime": "2026-11-30T09:12:00-05:00",
        "updated_datetime": "2026-11-30T09:12:00-05:00",
    },
    {
        "service_request_id": "5678",
        "status": "open",
        "status_notes": "in_progress",
        "service_name": "Streetlight out",
        "service_code": "002",
        "requested_datetime": "2026-11-20T14:03:00-05:00",
        "updated_datetime": "2026-12-02T10:40:00-05:00",
    },
    {
        "service_request_id": "638344",
        "status": "closed",
        "status_notes": "Duplicate request.",
        "service_name": "Sidewalk and Curb Issues",
        "service_code": "006",
        "requested_datetime": "2026-10-14T06:37:38-04:00",
        "updated_datetime": "2026-10-15T08:00:00-04:00",
    },
)
"""Fictional requests the demo and the tests look up."""


@dataclass
class GeoReportServer:
    """The server on 127.0.0.1 (an ephemeral port unless ``port`` is given)."""

    requests: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {r["service_request_id"]: r for r in DEMO_REQUESTS}
    )
    jurisdiction_id: str | None = None
    api_key: str | None = None
    slow_s: float = 10.0
    port: int = 0
    prefix: str = ""
    """A path the requests live under (like ``/open311/v2``), as on real servers."""
    held: bool = False
    """Whether every request waits for `release` (at most `slow_s`) before its answer: a
    server that is slow but answers, while a test does something meanwhile."""
    asked: list[str] = field(default_factory=list)
    """Request numbers asked for, in order."""
    received: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a request arrives (`asked` lists them)."""
    handled_ms: list[float] = field(default_factory=list)
    """How long the server took over each request it answered, in order (for benchmarks)."""
    abandoned: list[str] = field(default_factory=list)
    """Request numbers whose client went away before the answer, in order."""
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a slow request (`SLOW_ID`) waits."""
    abandon_seen: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a client went away before its answer."""
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> GeoReportServer:
        app = web.Application()
        app.router.add_get(f"{self.prefix}/requests/{{request_id}}.json", self._request)
        # A client that goes away cancels its request's handler, as it ends a real server's.
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def release(self) -> None:
        """Let every request waiting (held, or slow) answer now."""
        self._release.set()

    async def __aenter__(self) -> GeoReportServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _request(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await self._answer(request)
        except asyncio.CancelledError:
            self.abandoned.append(request.match_info["request_id"])
            self.abandon_seen.set()
            raise
        finally:
            self.handled_ms.append((time.perf_counter() - started) * 1000)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        request_id = request.match_info["request_id"]
        self.asked.append(request_id)
        self.received.set()
        query = request.query
        if self.api_key is not None and query.get("api_key") != self.api_key:
            return _errors(403, "api_key invalid")
        if (
            self.jurisdiction_id is not None
            and query.get("jurisdiction_id") != self.jurisdiction_id
        ):
            return _errors(404, "jurisdiction_id not found")
        if self.held:
            await self._released()
        if request_id == SLOW_ID:
            self.slow_started.set()
            await self._released()
        elif request_id == SERVER_ERROR_ID:
            return web.Response(status=500, text="Internal Server Error")
        elif request_id == MALFORMED_ID:
            return web.Response(
                text='[{"service_request_id": "9400", "status": ', content_type="application/json"
            )
        elif request_id == WRONG_TYPE_ID:
            return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")
        found = self.requests.get(request_id)
        if found is None:
            return _errors(404, f"service_request_id {request_id} not found")
        return web.json_response([found])

    async def _released(self) -> None:
        """Wait for `release`, or `slow_s` at most."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.slow_s)


@contextlib.contextmanager
def serving_in_thread() -> Iterator[GeoReportServer]:
    """A `GeoReportServer` on its own event loop in a thread, for callers that run their own
    loop or none (a command under test, a real Asterisk's controller)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    running = GeoReportServer()
    try:
        asyncio.run_coroutine_threadsafe(running.start(), loop).result(10)
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _errors(status: int, description: str) -> web.Response:
    """The specification's error answer: an array of ``{code, description}``."""
    return web.json_response([{"code": status, "description": description}], status=status)
