"""The fake ARI served over real HTTP and WebSocket on loopback, plus its control API.

ARI lives under ``/ari`` with HTTP basic auth (401 otherwise), as in Asterisk; its REST
resources (`switchsim.ari_rest`) also answer ``RESTRequest`` frames sent on the event WebSocket
(`switchsim.socket_requests`), as Asterisk 22.4+ does. The control API for tests and the
simulated switch lives under ``/_fake`` without auth. Every ARI request is logged (method, path,
query string, whether an Authorization header came, which way it came) so tests can check that
credentials never travel in a URL.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from switchsim.ari_rest import AriRequest, AriRest, RouteTable, json_body, json_response
from switchsim.objects import SwitchError
from switchsim.records import Outcome
from switchsim.socket_requests import RestResponse, SocketRequest, parse_frame
from switchsim.switch import FakeSwitch

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Call = Callable[[], Awaitable[web.StreamResponse]]
"""A handler applied to its request: carrying the request out."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake received on its ARI paths."""

    method: str
    path: str
    query_string: str
    authorization_header: bool
    """Over the WebSocket: whether its upgrade came with one (Asterisk authenticates each
    request on a socket with its upgrade's headers)."""
    status: int
    """0 when the answer was lost (`FakeAri.lose_next_answer`)."""
    transport: str
    """``"http"``, or ``"socket"`` for a request made on the event WebSocket."""


@dataclass(frozen=True)
class HeldRequest:
    """A request the fake holds before carrying it out (`FakeAri.hold_next`): a slow
    Asterisk, while a test does something meanwhile."""

    arrived: asyncio.Event
    released: asyncio.Event
    done: asyncio.Event
    """Set once the request is carried out (and logged), or failed."""

    def release(self) -> None:
        self.released.set()


class _Connection:
    """One event WebSocket: a queue and a writer task keep its frames (events and answers to
    requests made on it) in emission order."""

    def __init__(
        self, upgrade: web.Request, ws: web.WebSocketResponse, apps: tuple[str, ...]
    ) -> None:
        self.upgrade = upgrade
        self.ws = ws
        self.apps = apps
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.cut_off = False

    def sink(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(orjson.dumps(payload).decode())

    def cut(self) -> None:
        """Drop the connection at once, as a network blip does."""
        self.cut_off = True
        if self.upgrade.transport is not None:
            self.upgrade.transport.abort()

    async def write(self) -> None:
        while True:
            frame = await self.queue.get()
            if self.ws.closed:
                return
            await self.ws.send_str(frame)


class FakeAri:
    """A fake Asterisk ARI on loopback. ``async with FakeAri() as fake: fake.url ...``.

    ``url`` is the HTTP base to give `AriClient` (``http://127.0.0.1:PORT``). ``switch`` is the
    model and the Python control API (`FakeSwitch.place_call`, `press`, `hangup_caller`,
    `script_endpoint`, `record`, `wait_for`, `wait_event`). ``requests_over_socket`` False
    is an Asterisk older than 22.4: it reads what a client sends on the event WebSocket and
    ignores it.
    """

    def __init__(
        self,
        *,
        user: str = "ivr311",
        password: str = "ivr311",
        host: str = "127.0.0.1",
        port: int = 0,
        switch: FakeSwitch | None = None,
        requests_over_socket: bool = True,
    ) -> None:
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.switch = switch or FakeSwitch()
        self.requests_over_socket = requests_over_socket
        self._rest = AriRest(self.switch)
        self._routes = RouteTable(self._rest.routes())
        self.requests: list[RequestRecord] = []
        self._connections: list[_Connection] = []
        self._lose_answers: list[tuple[str, str]] = []
        self._held: list[tuple[str, str, HeldRequest]] = []
        self._held_tasks: set[asyncio.Future[web.StreamResponse]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The HTTP base URL (valid once started)."""
        if self._runner is None:
            raise RuntimeError("the fake ARI is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Listen on loopback (``port`` 0 picks a free port); returns `url`."""
        self._runner = web.AppRunner(self._build_app(), handle_signals=False)
        await self._runner.setup()
        await self.listen()
        return self.url

    async def listen(self) -> None:
        """(Re)open the listening socket on the same port after `stop_listening`."""
        if self._runner is None:
            raise RuntimeError("the fake ARI is not started")
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self._site = site
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    async def stop_listening(self) -> None:
        """Asterisk is down: drop every socket and refuse new connections until `listen`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        await self.drop_connections()

    async def stop(self) -> None:
        await self.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> FakeAri:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- faults ------------------------------------------------------------------------------

    async def drop_connections(self) -> None:
        """Close every event WebSocket (the applications stay registered with their channels)."""
        for conn in list(self._connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restart")

    async def restart(self, *, keep_channels: bool = False) -> None:
        """Drop the event sockets; without ``keep_channels`` also lose every channel and bridge,
        as a real Asterisk restart does."""
        if not keep_channels:
            # Before the sockets drop: a client that reconnects at once must find the new state.
            self.switch.drop_all()
        await self.drop_connections()

    def lose_next_answer(self, method: str, path: str) -> None:
        """Carry out the next ``method path`` request (``"POST", "/ari/channels/leg-1"``) but cut
        the connection before answering, as when a network blip eats Asterisk's answer. Over
        the event WebSocket, that connection is the socket."""
        self._lose_answers.append((method.upper(), path))

    def hold_next(self, method: str, path_prefix: str) -> HeldRequest:
        """Hold the next ``method`` request whose path starts with ``path_prefix`` until the
        test releases it, then carry it out. Over the event WebSocket, the requests after it
        on that socket wait too: Asterisk carries them out one at a time."""
        held = HeldRequest(asyncio.Event(), asyncio.Event(), asyncio.Event())
        self._held.append((method.upper(), path_prefix, held))
        return held

    def _take_held(self, request: AriRequest) -> HeldRequest | None:
        for i, (method, prefix, held) in enumerate(self._held):
            if request.method == method and request.path.startswith(prefix):
                del self._held[i]
                return held
        return None

    def send_raw(self, app: str, frame: str) -> int:
        """Send a raw text frame (malformed on purpose) to the application's sockets."""
        sent = 0
        for conn in self._connections:
            if app in conn.apps:
                conn.queue.put_nowait(frame)
                sent += 1
        return sent

    def connection_count(self, app: str | None = None) -> int:
        """Open event sockets (for one application)."""
        return sum(1 for c in self._connections if app is None or app in c.apps)

    # --- the aiohttp application ---------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._ari_middleware])
        r = app.router
        r.add_get("/ari/events", self._events)
        for route in self._rest.routes():
            r.add_route(route.method, f"/ari/{route.template}", route.handler)
        r.add_post("/_fake/calls", self._ctl_place_call)
        r.add_post("/_fake/channels/{id}/dtmf", self._ctl_press)
        r.add_post("/_fake/channels/{id}/hangup", self._ctl_hangup)
        r.add_get("/_fake/channels", self._ctl_records)
        r.add_get("/_fake/channels/{id}", self._ctl_record)
        r.add_post("/_fake/endpoints", self._ctl_script)
        r.add_post("/_fake/restart", self._ctl_restart)
        r.add_get("/_fake/requests", self._ctl_requests)
        r.add_get("/_fake/events", self._ctl_events)
        return app

    @web.middleware
    async def _ari_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/ari/"):
            try:
                return await handler(request)
            except SwitchError as exc:
                return json_response({"message": exc.message}, status=exc.status)
            except (KeyError, ValueError, TypeError) as exc:
                return json_response({"message": f"bad control request: {exc}"}, status=400)
        return await self._serve(request, partial(handler, request), partial(_abort, request))

    async def _serve(
        self, request: AriRequest, call: Call, cut: Callable[[], None]
    ) -> web.StreamResponse:
        """Carry out an ARI request (``call``), held first if a test asked (`hold_next`);
        ``cut`` drops its connection instead of answering (`lose_next_answer`)."""
        held = self._take_held(request)
        if held is None:
            return await self._serve_ari(request, call, cut)
        # Carried out once released even if the client has gone meanwhile, as Asterisk
        # carries out a request it has read.
        task = asyncio.ensure_future(self._when_released(held, request, call, cut))
        self._held_tasks.add(task)
        task.add_done_callback(self._held_tasks.discard)
        return await asyncio.shield(task)

    async def _when_released(
        self, held: HeldRequest, request: AriRequest, call: Call, cut: Callable[[], None]
    ) -> web.StreamResponse:
        held.arrived.set()
        await held.released.wait()
        try:
            return await self._serve_ari(request, call, cut)
        finally:
            held.done.set()

    async def _serve_ari(
        self, request: AriRequest, call: Call, cut: Callable[[], None]
    ) -> web.StreamResponse:
        status = 500
        try:
            if not self._authorized(request):
                status = 401
                return json_response(
                    {"message": "Authentication required"},
                    status=401,
                    headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
                )
            try:
                response = await call()
            except SwitchError as exc:
                status = exc.status
                return json_response({"message": exc.message}, status=exc.status)
            except web.HTTPException as exc:
                status = exc.status
                return json_response({"message": exc.reason}, status=exc.status)
            status = response.status
            if (request.method, request.path) in self._lose_answers:
                self._lose_answers.remove((request.method, request.path))
                status = 0
                cut()  # done, but the answer never reaches the client
            return response
        finally:
            if status != 101:  # an accepted WebSocket logged itself when it opened
                self._log_request(request, status)

    def _log_request(self, request: AriRequest, status: int) -> None:
        self.requests.append(
            RequestRecord(
                request.method,
                request.path,
                request.query_string,
                "Authorization" in request.headers,
                status,
                "socket" if isinstance(request, SocketRequest) else "http",
            )
        )

    def _authorized(self, request: AriRequest) -> bool:
        header = request.headers.get("Authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                decoded = base64.b64decode(token, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return False
            return decoded == f"{self.user}:{self.password}"
        api_key = request.query.get("api_key")  # Asterisk accepts it; the client never uses it.
        return api_key == f"{self.user}:{self.password}"

    # --- event WebSocket -----------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        apps = tuple(a for a in request.query.get("app", "").split(",") if a)
        if not apps:
            raise SwitchError(400, "app parameter is required")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._log_request(request, 101)
        conn = _Connection(request, ws, apps)
        self._connections.append(conn)
        for app in apps:
            self.switch.connect_app(app, conn.sink)
        writer = asyncio.create_task(conn.write())
        try:
            async for message in ws:
                # One at a time, in the order read, as Asterisk's session thread does.
                if message.type is WSMsgType.TEXT and self.requests_over_socket:
                    await self._socket_request(conn, message.data)
        finally:
            for app in apps:
                self.switch.disconnect_app(app, conn.sink)
            self._connections.remove(conn)
            writer.cancel()
        return ws

    async def _socket_request(self, conn: _Connection, frame: str) -> None:
        """Carry out a ``RESTRequest`` frame as the same HTTP request and answer it on the
        socket."""
        request = parse_frame(frame, conn.upgrade.headers)
        if isinstance(request, RestResponse):
            self._answer(conn, request)
            return
        if (request.method, request.uri) == ("GET", "events"):
            self._answer(conn, request.refuse("Can't upgrade to websocket from a websocket"))
            return
        call: Call
        try:
            handler, match_info = self._routes.resolve(request.method, request.uri)
        except web.HTTPException as exc:
            call = partial(_raise, exc)  # answered once authenticated, as over HTTP
        else:
            request = replace(request, match_info=match_info)
            call = partial(handler, request)
        response = await self._serve(request, call, conn.cut)
        if not conn.cut_off:
            self._answer(conn, request.answer(response))

    def _answer(self, conn: _Connection, response: RestResponse) -> None:
        """Send an answer as Asterisk does: on behalf of the socket's first application,
        through that application's event filter."""
        app = conn.apps[0]
        if self.switch.event_allowed(app, "RESTResponse"):
            conn.sink(response.frame(app))

    # --- control API -----------------------------------------------------------------------

    async def _ctl_place_call(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        location = body.get("location")
        channel_id = self.switch.place_call(
            str(body.get("dialled", "311")),
            str(body.get("calling", "")),
            app=str(body.get("app", "ivr311")),
            location=(float(location[0]), float(location[1])) if location else None,
            variables={str(k): str(v) for k, v in dict(body.get("variables", {})).items()},
            answered=None if body.get("answered") is None else bool(body["answered"]),
        )
        return json_response({"channel_id": channel_id}, status=201)

    async def _ctl_press(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        self.switch.press(request.match_info["id"], str(body["digits"]))
        return web.Response(status=204)

    async def _ctl_hangup(self, request: web.Request) -> web.Response:
        body = await json_body(request) if request.can_read_body else {}
        self.switch.hangup_caller(request.match_info["id"], int(body.get("cause", 16)))
        return web.Response(status=204)

    async def _ctl_records(self, request: web.Request) -> web.Response:
        return json_response([r.as_json() for r in self.switch.records.values()])

    async def _ctl_record(self, request: web.Request) -> web.Response:
        record = self.switch.records.get(request.match_info["id"])
        if record is None:
            return json_response({"message": "Channel not found"}, status=404)
        return json_response(record.as_json())

    async def _ctl_script(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        raw_outcomes = body.get("outcomes") or [body]
        outcomes = [Outcome.from_json(dict(o)) for o in raw_outcomes]
        self.switch.script_endpoint(str(body["endpoint"]), *outcomes)
        return web.Response(status=204)

    async def _ctl_restart(self, request: web.Request) -> web.Response:
        body = await json_body(request) if request.can_read_body else {}
        await self.restart(keep_channels=bool(body.get("keep_channels", False)))
        return web.Response(status=204)

    async def _ctl_requests(self, request: web.Request) -> web.Response:
        return json_response([r.__dict__ for r in self.requests])

    async def _ctl_events(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return json_response([e.payload for e in self.switch.events[since:]])


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _raise(exc: web.HTTPException) -> web.StreamResponse:
    raise exc
