"""The ARI REST resources of the fake, one route table for both ways Asterisk takes a request.

Asterisk serves the same handlers over HTTP (``/ari/...``) and, from 22.4, as ``RESTRequest``
frames on the event WebSocket (`switchsim.socket_requests`). `AriRest.routes` is the one list
of ``(method, path template, handler)``: `switchsim.server.FakeAri` registers it on its aiohttp
application and matches socket requests against it (`RouteTable`). A handler reads only what
`AriRequest` names, which an aiohttp `web.Request` and a `SocketRequest` both provide.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

import orjson
from aiohttp import web
from multidict import MultiMapping

from switchsim.objects import SwitchError
from switchsim.switch import FakeSwitch


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


json_response = functools.partial(web.json_response, dumps=_dumps)
"""`aiohttp.web.json_response` with the faster encoder (frames and bodies are most of the
switch's work when thousands of calls run through it)."""


class AriRequest(Protocol):
    """What the fake reads of an ARI request, whichever way it came."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str:
        """Decoded, with the ``/ari`` prefix: ``/ari/channels/leg-1``."""

    @property
    def query_string(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Over the WebSocket, those of its upgrade (Asterisk authenticates with them)."""

    @property
    def match_info(self) -> Mapping[str, str]: ...

    @property
    def query(self) -> MultiMapping[str]: ...

    @property
    def can_read_body(self) -> bool: ...

    async def json(self) -> Any: ...


AriHandler = Callable[[AriRequest], Awaitable[web.Response]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    """Relative to ``/ari/``, with ``{name}`` segments: ``channels/{id}/play/{pb}``."""
    handler: AriHandler


class RouteTable:
    """Finds a route for a socket request's method and path, with aiohttp's answers when
    none does (the HTTP side gets the same from aiohttp's router)."""

    def __init__(self, routes: list[Route]) -> None:
        self._routes = [(route, route.template.split("/")) for route in routes]

    def resolve(self, method: str, path: str) -> tuple[AriHandler, dict[str, str]]:
        """The handler for ``method`` on ``path`` (relative to ``/ari/``, still %-encoded)
        and its path parameters, decoded segment by segment as Asterisk does; raises
        `web.HTTPNotFound` or `web.HTTPMethodNotAllowed`."""
        segments = [unquote(segment) for segment in path.split("/")]
        allowed: list[str] = []
        for route, template in self._routes:
            match_info = _match(template, segments)
            if match_info is None:
                continue
            if route.method == method:
                return route.handler, match_info
            allowed.append(route.method)
        if allowed:
            raise web.HTTPMethodNotAllowed(method, allowed)
        raise web.HTTPNotFound()


def _match(template: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    match_info: dict[str, str] = {}
    for expected, segment in zip(template, segments, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            if not segment:
                return None
            match_info[expected[1:-1]] = segment
        elif expected != segment:
            return None
    return match_info


class AriRest:
    """The ARI REST handlers, on ``switch``."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch

    def routes(self) -> list[Route]:
        return [
            Route("GET", "asterisk/ping", self._ping),
            Route("PUT", "asterisk/modules/{module}", self._reload_module),
            Route("GET", "applications/{app}", self._application),
            Route("PUT", "applications/{app}/eventFilter", self._event_filter),
            Route("POST", "applications/{app}/subscription", self._subscribe),
            Route("DELETE", "applications/{app}/subscription", self._unsubscribe),
            Route("GET", "channels/{id}", self._get_channel),
            Route("POST", "channels/{id}", self._originate),
            Route("DELETE", "channels/{id}", self._hangup),
            Route("POST", "channels/{id}/answer", self._answer),
            Route("POST", "channels/{id}/ring", self._ring),
            Route("DELETE", "channels/{id}/ring", self._ring_stop),
            Route("POST", "channels/{id}/continue", self._continue),
            Route("POST", "channels/{id}/play/{pb}", self._play),
            Route("GET", "channels/{id}/variable", self._get_var),
            Route("POST", "channels/{id}/variable", self._set_var),
            Route("POST", "channels/{id}/moh", self._channel_moh_on),
            Route("DELETE", "channels/{id}/moh", self._channel_moh_off),
            Route("GET", "playbacks/{pb}", self._get_playback),
            Route("DELETE", "playbacks/{pb}", self._stop_playback),
            Route("GET", "bridges/{id}", self._get_bridge),
            Route("POST", "bridges/{id}", self._create_bridge),
            Route("DELETE", "bridges/{id}", self._destroy_bridge),
            Route("POST", "bridges/{id}/addChannel", self._add_channel),
            Route("POST", "bridges/{id}/removeChannel", self._remove_channel),
        ]

    async def _ping(self, request: AriRequest) -> web.Response:
        return json_response(self.switch.ping())

    async def _reload_module(self, request: AriRequest) -> web.Response:
        self.switch.reload_module(request.match_info["module"])
        return web.Response(status=204)

    async def _application(self, request: AriRequest) -> web.Response:
        return json_response(self.switch.application(request.match_info["app"]))

    async def _subscribe(self, request: AriRequest) -> web.Response:
        sources = _list_values(request, "eventSource")
        return json_response(self.switch.subscribe(request.match_info["app"], sources))

    async def _unsubscribe(self, request: AriRequest) -> web.Response:
        sources = _list_values(request, "eventSource")
        return json_response(self.switch.unsubscribe(request.match_info["app"], sources))

    async def _event_filter(self, request: AriRequest) -> web.Response:
        body = await json_body(request) if request.can_read_body else {}
        allowed = body.get("allowed") or []
        if not isinstance(allowed, list) or not all(
            isinstance(item, dict) and isinstance(item.get("type"), str) for item in allowed
        ):
            raise SwitchError(400, "allowed must be a list of {type: name}")
        return json_response(
            self.switch.filter_events(request.match_info["app"], [i["type"] for i in allowed])
        )

    async def _get_channel(self, request: AriRequest) -> web.Response:
        return json_response(self.switch.get_channel(request.match_info["id"]))

    async def _originate(self, request: AriRequest) -> web.Response:
        q = request.query
        if not q.get("endpoint"):
            raise SwitchError(400, "Endpoint must be specified")
        variables: dict[str, str] = {}
        if request.can_read_body:
            body = await json_body(request)
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

    async def _hangup(self, request: AriRequest) -> web.Response:
        self.switch.hangup(request.match_info["id"], request.query.get("reason"))
        return web.Response(status=204)

    async def _answer(self, request: AriRequest) -> web.Response:
        self.switch.answer(request.match_info["id"])
        return web.Response(status=204)

    async def _ring(self, request: AriRequest) -> web.Response:
        self.switch.ring(request.match_info["id"])
        return web.Response(status=204)

    async def _ring_stop(self, request: AriRequest) -> web.Response:
        self.switch.ring_stop(request.match_info["id"])
        return web.Response(status=204)

    async def _continue(self, request: AriRequest) -> web.Response:
        q = request.query
        self.switch.continue_in_dialplan(
            request.match_info["id"],
            q.get("context"),
            q.get("extension"),
            _int_param(q.get("priority"), "priority"),
        )
        return web.Response(status=204)

    async def _play(self, request: AriRequest) -> web.Response:
        media = [m for value in request.query.getall("media", []) for m in value.split(",")]
        playback = self.switch.play(
            request.match_info["id"], request.match_info["pb"], media, request.query.get("lang")
        )
        return json_response(playback, status=201)

    async def _get_var(self, request: AriRequest) -> web.Response:
        name = request.query.get("variable", "")
        return json_response(self.switch.get_variable(request.match_info["id"], name))

    async def _set_var(self, request: AriRequest) -> web.Response:
        q = request.query
        self.switch.set_variable(
            request.match_info["id"], q.get("variable", ""), q.get("value", "")
        )
        return web.Response(status=204)

    async def _channel_moh_on(self, request: AriRequest) -> web.Response:
        self.switch.channel_moh(request.match_info["id"], request.query.get("mohClass"), True)
        return web.Response(status=204)

    async def _channel_moh_off(self, request: AriRequest) -> web.Response:
        self.switch.channel_moh(request.match_info["id"], None, False)
        return web.Response(status=204)

    async def _get_playback(self, request: AriRequest) -> web.Response:
        return json_response(self.switch.get_playback(request.match_info["pb"]))

    async def _stop_playback(self, request: AriRequest) -> web.Response:
        self.switch.stop_playback(request.match_info["pb"])
        return web.Response(status=204)

    async def _get_bridge(self, request: AriRequest) -> web.Response:
        return json_response(self.switch.get_bridge(request.match_info["id"]))

    async def _create_bridge(self, request: AriRequest) -> web.Response:
        bridge = self.switch.create_bridge(
            request.match_info["id"], request.query.get("type"), request.query.get("name")
        )
        return json_response(bridge)

    async def _destroy_bridge(self, request: AriRequest) -> web.Response:
        self.switch.destroy_bridge(request.match_info["id"])
        return web.Response(status=204)

    async def _add_channel(self, request: AriRequest) -> web.Response:
        channels = _list_param(request, "channel")
        self.switch.add_channels(request.match_info["id"], channels)
        return web.Response(status=204)

    async def _remove_channel(self, request: AriRequest) -> web.Response:
        for channel_id in _list_param(request, "channel"):
            self.switch.remove_channel(request.match_info["id"], channel_id)
        return web.Response(status=204)


async def json_body(request: AriRequest) -> dict[str, Any]:
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


def _list_values(request: AriRequest, name: str) -> list[str]:
    """A list parameter, repeated or comma-separated, as Asterisk reads one."""
    return [v for value in request.query.getall(name, []) for v in value.split(",") if v]


def _list_param(request: AriRequest, name: str) -> list[str]:
    values = _list_values(request, name)
    if not values:
        raise SwitchError(400, f"{name} parameter is required")
    return values
