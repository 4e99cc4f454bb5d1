"""The fake ARI served over real HTTP and WebSocket on loopback, plus its control API.

ARI lives under ``/ari`` with HTTP basic auth (401 otherwise), as in Asterisk; the control API
for tests and the simulated switch lives under ``/_fake`` without auth. Every ARI request is
logged (method, path, query string, whether an Authorization header came) so tests can check
that credentials never travel in a URL.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
import structlog
from aiohttp import WSCloseCode, web

from switchsim.objects import SwitchError
from switchsim.records import Outcome
from switchsim.switch import FakeSwitch

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


json_response = functools.partial(web.json_response, dumps=_dumps)
"""`aiohttp.web.json_response` with the faster encoder (frames and bodies are most of the
switch's work when thousands of calls run through it)."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake received on its ARI paths."""

    method: str
    path: str
    query_string: str
    authorization_header: bool
    status: int


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
    """One event WebSocket: a queue and a writer task keep its frames in emission order."""

    def __init__(self, ws: web.WebSocketResponse, apps: tuple[str, ...]) -> None:
        self.ws = ws
        self.apps = apps
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def sink(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(_dumps(payload))

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
    `script_endpoint`, `record`, `wait_for`, `wait_event`).
    """

    def __init__(
        self,
        *,
        user: str = "ivr311",
        password: str = "ivr311",
        host: str = "127.0.0.1",
        port: int = 0,
        switch: FakeSwitch | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.switch = switch or FakeSwitch()
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
        the connection before answering, as when a network blip eats Asterisk's answer."""
        self._lose_answers.append((method.upper(), path))

    def hold_next(self, method: str, path_prefix: str) -> HeldRequest:
        """Hold the next ``method`` request whose path starts with ``path_prefix`` until the
        test releases it, then carry it out."""
        held = HeldRequest(asyncio.Event(), asyncio.Event(), asyncio.Event())
        self._held.append((method.upper(), path_prefix, held))
        return held

    def _take_held(self, request: web.Request) -> HeldRequest | None:
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
        r.add_get("/ari/asterisk/ping", self._ping)
        r.add_put("/ari/asterisk/modules/{module}", self._reload_module)
        r.add_get("/ari/applications/{app}", self._application)
        r.add_put("/ari/applications/{app}/eventFilter", self._event_filter)
        r.add_post("/ari/applications/{app}/subscription", self._subscribe)
        r.add_delete("/ari/applications/{app}/subscription", self._unsubscribe)
        r.add_get("/ari/channels/{id}", self._get_channel)
        r.add_post("/ari/channels/{id}", self._originate)
        r.add_delete("/ari/channels/{id}", self._hangup)
        r.add_post("/ari/channels/{id}/answer", self._answer)
        r.add_post("/ari/channels/{id}/ring", self._ring)
        r.add_delete("/ari/channels/{id}/ring", self._ring_stop)
        r.add_post("/ari/channels/{id}/continue", self._continue)
        r.add_post("/ari/channels/{id}/play/{pb}", self._play)
        r.add_get("/ari/channels/{id}/variable", self._get_var)
        r.add_post("/ari/channels/{id}/variable", self._set_var)
        r.add_post("/ari/channels/{id}/moh", self._channel_moh_on)
        r.add_delete("/ari/channels/{id}/moh", self._channel_moh_off)
        r.add_get("/ari/playbacks/{pb}", self._get_playback)
        r.add_delete("/ari/playbacks/{pb}", self._stop_playback)
        r.add_get("/ari/bridges/{id}", self._get_bridge)
        r.add_post("/ari/bridges/{id}", self._create_bridge)
        r.add_delete("/ari/bridges/{id}", self._destroy_bridge)
        r.add_post("/ari/bridges/{id}/addChannel", self._add_channel)
        r.add_post("/ari/bridges/{id}/removeChannel", self._remove_channel)
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
        held = self._take_held(request)
        if held is not None:
            # Carried out once released even if the client has gone meanwhile, as Asterisk
            # carries out a request it has read.
            task = asyncio.ensure_future(self._when_released(held, request, handler))
            self._held_tasks.add(task)
            task.add_done_callback(self._held_tasks.discard)
            return await asyncio.shield(task)
        return await self._serve_ari(request, handler)

    async def _when_released(
        self, held: HeldRequest, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        held.arrived.set()
        await held.released.wait()
        try:
            return await self._serve_ari(request, handler)
        finally:
            held.done.set()

    async def _serve_ari(self, request: web.Request, handler: Handler) -> web.StreamResponse:
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
                response = await handler(request)
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
                if request.transport is not None:
                    request.transport.abort()  # done, but the answer never reaches the client
            return response
        finally:
            if status != 101:  # an accepted WebSocket logged itself when it opened
                self._log_request(request, status)

    def _log_request(self, request: web.Request, status: int) -> None:
        self.requests.append(
            RequestRecord(
                request.method,
                request.path,
                request.query_string,
                "Authorization" in request.headers,
                status,
            )
        )

    def _authorized(self, request: web.Request) -> bool:
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
        conn = _Connection(ws, apps)
        self._connections.append(conn)
        for app in apps:
            self.switch.connect_app(app, conn.sink)
        writer = asyncio.create_task(conn.write())
        try:
            async for _ in ws:
                pass  # ARI clients send nothing we act on
        finally:
            for app in apps:
                self.switch.disconnect_app(app, conn.sink)
            self._connections.remove(conn)
            writer.cancel()
        return ws

    # --- ARI REST ------------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return json_response(self.switch.ping())

    async def _reload_module(self, request: web.Request) -> web.Response:
        self.switch.reload_module(request.match_info["module"])
        return web.Response(status=204)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(self.switch.application(request.match_info["app"]))

    async def _subscribe(self, request: web.Request) -> web.Response:
        sources = _list_values(request, "eventSource")
        return json_response(self.switch.subscribe(request.match_info["app"], sources))

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        sources = _list_values(request, "eventSource")
        return json_response(self.switch.unsubscribe(request.match_info["app"], sources))

    async def _event_filter(self, request: web.Request) -> web.Response:
        body = await _json_body(request) if request.can_read_body else {}
        allowed = body.get("allowed") or []
        if not isinstance(allowed, list) or not all(
            isinstance(item, dict) and isinstance(item.get("type"), str) for item in allowed
        ):
            raise SwitchError(400, "allowed must be a list of {type: name}")
        return json_response(
            self.switch.filter_events(request.match_info["app"], [i["type"] for i in allowed])
        )

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.switch.get_channel(request.match_info["id"]))

    async def _originate(self, request: web.Request) -> web.Response:
        q = request.query
        if not q.get("endpoint"):
            raise SwitchError(400, "Endpoint must be specified")
        variables: dict[str, str] = {}
        if request.can_read_body:
            body = await _json_body(request)
            raw = body.get("variables", {})
            if not isinstance(raw, dict):
                raise SwitchError(400, "variables must be an object")
            variables = {str(k): str(v) for k, v in raw.items()}
        channel = self.switch.originate(
            request.match_info["id"],
            q["endpoint"],
            app=q.get("app"),
            app_args=q.get("appArgs"),
            caller_id=q.get("callerId"),
            timeout_s=_int_param(q.get("timeout"), "timeout"),
            originator=q.get("originator"),
            variables=variables,
        )
        return json_response(channel)

    async def _hangup(self, request: web.Request) -> web.Response:
        self.switch.hangup(request.match_info["id"], request.query.get("reason"))
        return web.Response(status=204)

    async def _answer(self, request: web.Request) -> web.Response:
        self.switch.answer(request.match_info["id"])
        return web.Response(status=204)

    async def _ring(self, request: web.Request) -> web.Response:
        self.switch.ring(request.match_info["id"])
        return web.Response(status=204)

    async def _ring_stop(self, request: web.Request) -> web.Response:
        self.switch.ring_stop(request.match_info["id"])
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        q = request.query
        self.switch.continue_in_dialplan(
            request.match_info["id"],
            q.get("context"),
            q.get("extension"),
            _int_param(q.get("priority"), "priority"),
        )
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        media = [m for value in request.query.getall("media", []) for m in value.split(",")]
        playback = self.switch.play(
            request.match_info["id"], request.match_info["pb"], media, request.query.get("lang")
        )
        return json_response(playback, status=201)

    async def _get_var(self, request: web.Request) -> web.Response:
        name = request.query.get("variable", "")
        return json_response(self.switch.get_variable(request.match_info["id"], name))

    async def _set_var(self, request: web.Request) -> web.Response:
        q = request.query
        self.switch.set_variable(
            request.match_info["id"], q.get("variable", ""), q.get("value", "")
        )
        return web.Response(status=204)

    async def _channel_moh_on(self, request: web.Request) -> web.Response:
        self.switch.channel_moh(request.match_info["id"], request.query.get("mohClass"), True)
        return web.Response(status=204)

    async def _channel_moh_off(self, request: web.Request) -> web.Response:
        self.switch.channel_moh(request.match_info["id"], None, False)
        return web.Response(status=204)

    async def _get_playback(self, request: web.Request) -> web.Response:
        return json_response(self.switch.get_playback(request.match_info["pb"]))

    async def _stop_playback(self, request: web.Request) -> web.Response:
        self.switch.stop_playback(request.match_info["pb"])
        return web.Response(status=204)

    async def _get_bridge(self, request: web.Request) -> web.Response:
        return json_response(self.switch.get_bridge(request.match_info["id"]))

    async def _create_bridge(self, request: web.Request) -> web.Response:
        bridge = self.switch.create_bridge(
            request.match_info["id"], request.query.get("type"), request.query.get("name")
        )
        return json_response(bridge)

    async def _destroy_bridge(self, request: web.Request) -> web.Response:
        self.switch.destroy_bridge(request.match_info["id"])
        return web.Response(status=204)

    async def _add_channel(self, request: web.Request) -> web.Response:
        channels = _list_param(request, "channel")
        self.switch.add_channels(request.match_info["id"], channels)
        return web.Response(status=204)

    async def _remove_channel(self, request: web.Request) -> web.Response:
        for channel_id in _list_param(request, "channel"):
            self.switch.remove_channel(request.match_info["id"], channel_id)
        return web.Response(status=204)

    # --- control API -----------------------------------------------------------------------

    async def _ctl_place_call(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
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
        body = await _json_body(request)
        self.switch.press(request.match_info["id"], str(body["digits"]))
        return web.Response(status=204)

    async def _ctl_hangup(self, request: web.Request) -> web.Response:
        body = await _json_body(request) if request.can_read_body else {}
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
        body = await _json_body(request)
        raw_outcomes = body.get("outcomes") or [body]
        outcomes = [Outcome.from_json(dict(o)) for o in raw_outcomes]
        self.switch.script_endpoint(str(body["endpoint"]), *outcomes)
        return web.Response(status=204)

    async def _ctl_restart(self, request: web.Request) -> web.Response:
        body = await _json_body(request) if request.can_read_body else {}
        await self.restart(keep_channels=bool(body.get("keep_channels", False)))
        return web.Response(status=204)

    async def _ctl_requests(self, request: web.Request) -> web.Response:
        return json_response([r.__dict__ for r in self.requests])

    async def _ctl_events(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return json_response([e.payload for e in self.switch.events[since:]])


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise SwitchError(400, "body is not JSON") from exc
    if not isinstance(body, dict):
        raise SwitchError(400, "body must be a JSON object")
    return body


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise SwitchError(400, f"{name} must be an integer") from exc


def _list_values(request: web.Request, name: str) -> list[str]:
    """A list parameter, repeated or comma-separated, as Asterisk reads one."""
    return [v for value in request.query.getall(name, []) for v in value.split(",") if v]


def _list_param(request: web.Request, name: str) -> list[str]:
    values = _list_values(request, name)
    if not values:
        raise SwitchError(400, f"{name} parameter is required")
    return values
