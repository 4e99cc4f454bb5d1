"""Event half of the ARI client: the WebSocket, kept connected, yielding typed events.

Credentials travel in the Authorization header only (a query-string password would end up in
access logs). When the socket drops or cannot be opened, the stream reconnects after a capped
exponential backoff with full jitter, so many controllers restarting together do not hammer
Asterisk in step. After every successful (re)connect it awaits the ``on_connect`` hook, where the
controller reconciles with ``GET /applications/{app}`` before it sees the new connection's
events.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import structlog

from ivr.ari.client import ari_root, basic_auth_header
from ivr.ari.events import ApplicationReplaced, AriEvent, parse_event
from ivr.ari.socket_requests import SocketRequests

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter.

    Attempt n (0-based) waits uniform(0, min(cap_s, initial_s · multiplier^n)).
    """

    initial_s: float = 0.5
    cap_s: float = 30.0
    multiplier: float = 2.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait before reconnect attempt ``attempt`` (0-based)."""
        return min(self.cap_s, self.initial_s * self.multiplier ** min(attempt, 64))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The jittered wait before attempt ``attempt``; ``rand`` returns a float in [0, 1)."""
        return rand() * self.ceiling(attempt)


class AriEventStream:
    """Iterate over the application's events forever, reconnecting as needed.

    ``async for event in stream`` yields every parsed event (unknown types as `UnknownEvent`,
    `ApplicationReplaced` included so the consumer can raise its alarm); malformed frames are
    logged and skipped. ``on_connect`` runs after each connect and before that connection's
    events are yielded, so it must not wait for events; ``on_disconnect`` runs when a connection
    ends. A hook that raises is logged and the stream goes on. A connection that lasted at least
    ``stable_after_s`` resets the backoff. ``count_event`` is told the type of every event
    received, for the metrics. `close` ends the iteration. ``requests``, when given, sends
    requests on the socket while the stream reads it, and takes their answers.
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        backoff: Backoff | None = None,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        rand: Callable[[], float] = random.random,
        heartbeat_s: float = 20.0,
        connect_timeout_s: float = 10.0,
        stable_after_s: float = 10.0,
        count_event: Callable[[str], None] = lambda _type: None,
        requests: SocketRequests | None = None,
    ) -> None:
        root = ari_root(base_url)
        scheme = "wss" if root.scheme == "https" else "ws"
        self.url = root.with_scheme(scheme).with_path(root.path + "/events").with_query(app=app)
        self.app = app
        self.backoff = backoff or Backoff()
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self._headers = {"Authorization": basic_auth_header(user, password)}
        self._rand = rand
        self._heartbeat_s = heartbeat_s
        self._connect_timeout_s = connect_timeout_s
        self._stable_after_s = stable_after_s
        self._count_event = count_event
        self._requests = requests
        self._connected = asyncio.Event()
        self._closing = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.connects = 0
        """How many times the socket was opened (the first connect included)."""
        self.failed_attempts = 0
        """Connect attempts that failed (refused, timed out, 401...)."""
        self.replaced = False
        """True once Asterisk said another client took over this application name."""
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the event socket is open right now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Wait until the socket is open; raises TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            await self._connected.wait()

    async def close(self) -> None:
        """Stop reconnecting and close the socket (once the requests on it are answered); the
        iteration ends."""
        self._closing.set()
        if self._requests is not None:
            await self._requests.settle()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def __aiter__(self) -> AsyncIterator[AriEvent]:
        attempt = 0
        async with aiohttp.ClientSession(
            headers=self._headers, timeout=aiohttp.ClientTimeout(total=None)
        ) as session:
            while not self._closing.is_set():
                ws = await self._open(session)
                if ws is None:
                    await self._pause(self.backoff.delay(attempt, self._rand))
                    attempt += 1
                    continue
                if self._closing.is_set():
                    await ws.close()
                    break
                opened_at = asyncio.get_running_loop().time()
                try:
                    await self._run_hook(self.on_connect, "on_connect")
                    requests = self._requests
                    if requests is not None:
                        requests.opened(ws)
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            if requests is not None and requests.take(msg.data):
                                continue
                            event = parse_event(msg.data)
                            if event is None:
                                continue
                            self._count_event(event.type)
                            if isinstance(event, ApplicationReplaced):
                                self.replaced = True
                                log.error("ari.application_replaced", app=self.app)
                            yield event
                        elif msg.type == aiohttp.WSMsgType.BINARY:
                            log.warning("ari.frame_malformed", reason="binary frame")
                        elif msg.type == aiohttp.WSMsgType.ERROR:
                            self.last_error = str(ws.exception())
                            break
                finally:
                    if self._requests is not None:
                        self._requests.closed()
                    self._ws = None
                    self._connected.clear()
                    await ws.close()
                if self._closing.is_set():
                    break
                log.warning("ari.disconnected", app=self.app, close_code=ws.close_code)
                await self._run_hook(self.on_disconnect, "on_disconnect")
                # A connection that stayed up resets the backoff; one that keeps dropping right
                # after it opens (a flapping proxy, an overloaded Asterisk) keeps backing off.
                lasted = asyncio.get_running_loop().time() - opened_at
                attempt = 0 if lasted >= self._stable_after_s else attempt
                await self._pause(self.backoff.delay(attempt, self._rand))
                attempt += 1

    async def _open(self, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse | None:
        try:
            ws = await asyncio.wait_for(
                session.ws_connect(self.url, heartbeat=self._heartbeat_s),
                self._connect_timeout_s,
            )
        except aiohttp.WSServerHandshakeError as exc:
            self.failed_attempts += 1
            self.last_error = f"handshake refused: {exc.status}"
            refused = exc.status in (401, 403)
            hint = ": check IVR311_ARI_USER and IVR311_ARI_PASSWORD (ari.conf)" if refused else ""
            log.error(
                "ari.auth_refused" if refused else "ari.connect_failed",
                app=self.app,
                url=str(self.url),
                status=exc.status,
                reason=f"Asterisk answered HTTP {exc.status}{hint}",
            )
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.failed_attempts += 1
            self.last_error = type(exc).__name__
            reason = " ".join(str(exc).split()) or f"no answer within {self._connect_timeout_s:g} s"
            log.warning(
                "ari.connect_failed",
                app=self.app,
                url=str(self.url),
                error_type=type(exc).__name__,
                reason=reason,
            )
            return None
        self._ws = ws
        self.connects += 1
        self._connected.set()
        log.info("ari.connected", app=self.app, connects=self.connects)
        return ws

    async def _pause(self, delay_s: float) -> None:
        """Wait ``delay_s`` before the next attempt, or less when `close` is called."""
        try:
            async with asyncio.timeout(delay_s):
                await self._closing.wait()
        except TimeoutError:
            return

    async def _run_hook(self, hook: Callable[[], Awaitable[None]] | None, name: str) -> None:
        if hook is None:
            return
        try:
            await hook()
        except Exception:
            log.exception("ari.hook_failed", hook=name, app=self.app)
