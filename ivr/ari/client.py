"""REST half of the ARI client: one typed async method per operation the controller uses.

Every call has a timeout; an error answer raises `AriError` keeping its HTTP status; no answer
raises `AriUnavailableError`. Operations that create objects take the caller's id (playback,
originated channel, bridge), so a retry after a lost answer cannot play or dial twice: Asterisk
answers 409 to a second originate or bridge creation with the same id. Cleanup operations
(hang up, stop a playback, destroy a bridge, remove a channel) treat "already gone" as done and
return whether they did anything.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NamedTuple

import aiohttp
import orjson
import structlog
from yarl import URL

from ivr.ari.errors import AriError, AriUnavailableError
from ivr.ari.events import Bridge, Channel
from ivr.ari.socket_requests import ANSWER_TYPE, SocketClosedError, SocketRequests

log = structlog.get_logger(__name__)

HangupReason = Literal["normal", "busy", "congestion", "no_answer", "timeout", "rejected"]

_Params = Mapping[str, str | int]
_Ids = Mapping[str, str]

Transport = Literal["http", "socket"]
RequestCounter = Callable[[str, str, Transport], None]
"""Told of every request sent: its HTTP method, path template (``/channels/{id}``) and how it
went (over HTTP or on the event socket)."""


def _not_counted(_method: str, _template: str, _transport: Transport) -> None:
    return None


def basic_auth_header(user: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class ApplicationState(NamedTuple):
    """What Asterisk still holds for the application: reconcile these after a reconnect."""

    channel_ids: tuple[str, ...]
    bridge_ids: tuple[str, ...]


def ari_root(base_url: str) -> URL:
    """``http://host:8088`` or ``http://host:8088/ari`` -> ``http://host:8088/ari``."""
    url = URL(base_url.rstrip("/"))
    if url.user or url.password:
        raise ValueError("put the ARI credentials in the user/password settings, not the URL")
    if url.path.rstrip("/").endswith("/ari"):
        return url.with_path(url.path.rstrip("/"))
    return url.with_path(url.path.rstrip("/") + "/ari")


class AriClient:
    """Typed REST calls to one Asterisk's ARI for one application.

    ``base_url`` is Asterisk's HTTP server (``http://127.0.0.1:8088``; a trailing ``/ari`` is
    accepted). Credentials go in the Authorization header of every request. ``timeout_s``
    bounds each attempt; ``retries`` is how many more attempts an operation that is safe to
    repeat gets when Asterisk did not answer (never on an error answer). ``max_connections``
    caps concurrent HTTP connections (Asterisk's ``http.conf`` ``sessionlimit`` is 100 by
    default); requests beyond it wait for a free connection within their timeout.
    ``count_request`` is told of every request sent (each attempt), for the metrics.
    ``socket`` sends requests on the event socket when it can take them
    (`ivr.ari.socket_requests`); without it every request goes over HTTP.
    """

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 1,
        max_connections: int = 100,
        count_request: RequestCounter = _not_counted,
        socket: SocketRequests | None = None,
    ) -> None:
        self.root = ari_root(base_url)
        self._socket = socket
        self._timeout_s = timeout_s
        self._count_request = count_request
        self.app = app
        self._headers = {"Authorization": basic_auth_header(user, password)}
        self._retries = retries
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connection pool; the client can be used again afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                connector=aiohttp.TCPConnector(limit=self._max_connections),
            )
        return self._session

    async def _delete_if_present(
        self, template: str, ids: _Ids, params: _Params | None = None
    ) -> bool:
        """A cleanup DELETE: True when done now, False when the thing was already gone (404)."""
        try:
            await self._request("DELETE", template, ids, params)
        except AriError as exc:
            if exc.is_gone:
                return False
            raise
        return True

    async def _request(
        self,
        method: str,
        template: str,
        ids: _Ids,
        params: _Params | None = None,
        body: Mapping[str, Any] | None = None,
        *,
        retry: bool = True,
        read_answer: bool = False,
        may_wait: bool = False,
    ) -> Any:
        """One REST call to ``template`` (``/channels/{id}/play/{playbackId}``) with ``ids``
        filled in; ``count_request`` is told the template, never an id. Returns the decoded
        JSON answer when ``read_answer`` (None for 204); otherwise the answer is not decoded:
        nobody uses it.

        It goes on the event socket when the socket can take requests, unless it ``may_wait``
        inside Asterisk (`ivr.ari.socket_requests`): then over HTTP."""
        path = template.format_map(ids) if ids else template
        attempts = 1 + (self._retries if retry else 0)
        for attempt in range(attempts):
            socket = None if may_wait else self._socket
            if socket is not None and not socket.available:
                socket = None
            self._count_request(method, template, "http" if socket is None else "socket")
            try:
                text: str | bytes | None
                if socket is not None:
                    answer = await socket.request(method, path, params, body, self._timeout_s)
                    status, reason, text = answer.status, answer.reason, answer.body
                else:
                    status, reason, text = await self._over_http(method, path, params, body)
            except (aiohttp.ClientConnectionError, TimeoutError, SocketClosedError) as exc:
                # ServerDisconnectedError and ClientConnectorError are connection errors;
                # a total timeout is TimeoutError; the event socket may close meanwhile.
                # None of them tells whether Asterisk acted.
                failure = AriUnavailableError(
                    type(exc).__name__ + (f": {exc}" if str(exc) else ""),
                    method=method,
                    path=path,
                )
                if attempt + 1 == attempts:
                    raise failure from exc
                log.info("ari.retry", method=method, path=path, error=failure.message)
                continue
            if status >= 400:
                raise AriError(status, _error_message(text, reason), method=method, path=path)
            if not read_answer or status == 204 or not text:
                return None
            try:
                return orjson.loads(text)
            except ValueError as exc:
                raise AriError(status, "answer is not JSON", method=method, path=path) from exc
        raise AssertionError("unreachable")

    async def _over_http(
        self, method: str, path: str, params: _Params | None, body: Mapping[str, Any] | None
    ) -> tuple[int, str, bytes]:
        url = self.root.with_path(self.root.path + path)
        async with self._http().request(method, url, params=params, json=body) as resp:
            return resp.status, resp.reason or "", await resp.read()

    # --- channels -------------------------------------------------------------------------

    async def get_channel(self, channel_id: str) -> Channel:
        """The channel's current snapshot (404 when it is gone)."""
        data = await self._request("GET", "/channels/{id}", {"id": channel_id}, read_answer=True)
        return Channel.model_validate(data)

    async def answer(self, channel_id: str) -> None:
        """Answer the channel (404 gone, 409 not in the application, 412 wrong state).
        Asterisk waits for the channel's own thread to answer."""
        await self._request("POST", "/channels/{id}/answer", {"id": channel_id}, may_wait=True)

    async def ring(self, channel_id: str) -> None:
        """Indicate ringing to the channel until `stop_ringing`.

        Before the answer the phone plays its own ringback; on an answered channel Asterisk
        generates the ringing tone itself (it goes on in a bridge and after leaving the
        application, so stop it). 404 gone, 409 not in the application, 412 an outbound
        channel that has not answered.
        """
        await self._request("POST", "/channels/{id}/ring", {"id": channel_id})

    async def stop_ringing(self, channel_id: str) -> bool:
        """Stop a ringing indication; False when the channel was already gone (404 counts as
        done)."""
        return await self._delete_if_present("/channels/{id}/ring", {"id": channel_id})

    async def hangup(self, channel_id: str, reason: HangupReason = "normal") -> bool:
        """Hang the channel up; False when it was already gone (404 counts as done)."""
        return await self._delete_if_present(
            "/channels/{id}", {"id": channel_id}, {"reason": reason}
        )

    async def play(
        self,
        channel_id: str,
        playback_id: str,
        media: Sequence[str],
        lang: str | None = None,
    ) -> None:
        """Play ``media`` (``sound:ivr311/greeting``, ``digits:12``...) in order on a channel.

        ``playback_id`` is chosen by the caller so PlaybackStarted/PlaybackFinished can be
        matched to this request. Not retried on a lost answer: a repeat would play twice.
        """
        if not media:
            raise ValueError("play needs at least one media URI")
        params: dict[str, str | int] = {"media": ",".join(media)}
        if lang:
            params["lang"] = lang
        await self._request(
            "POST",
            "/channels/{id}/play/{playbackId}",
            {"id": channel_id, "playbackId": playback_id},
            params,
            retry=False,
        )

    async def stop_playback(self, playback_id: str) -> bool:
        """Stop a playback; False when it had already finished (404 counts as done)."""
        return await self._delete_if_present("/playbacks/{id}", {"id": playback_id})

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        app_args: Sequence[str] = (),
        caller_id: str | None = None,
        timeout_s: int = 30,
        originator: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> bool:
        """Dial ``endpoint`` (``PJSIP/+12895550101@contact-centres``) into this application.

        The new leg gets ``channel_id``; when it answers it enters the application with a
        StasisStart carrying ``app_args``; when it fails it only gets a ChannelDestroyed with
        the Q.850 cause. Returns False when a channel with this id already exists (409: an
        earlier attempt went through, so nothing was dialled again).
        """
        params: dict[str, str | int] = {
            "endpoint": endpoint,
            "app": self.app,
            "timeout": timeout_s,
        }
        if app_args:
            params["appArgs"] = ",".join(app_args)
        if caller_id:
            params["callerId"] = caller_id
        if originator:
            params["originator"] = originator
        body = {"variables": dict(variables)} if variables else None
        try:
            await self._request(
                "POST", "/channels/{id}", {"id": channel_id}, params, body, may_wait=True
            )
        except AriError as exc:
            if exc.is_conflict:
                return False
            raise
        return True

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str, priority: int = 1
    ) -> None:
        """Leave the application and go on in the dialplan at ``context,extension,priority``."""
        params: dict[str, str | int] = {
            "context": context,
            "extension": extension,
            "priority": priority,
        }
        await self._request(
            "POST", "/channels/{id}/continue", {"id": channel_id}, params, retry=False
        )

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        """A channel variable or dialplan function (which may take its time); None when the
        variable is not set.

        Raises `AriError` with 404 when the channel itself is gone.
        """
        try:
            data = await self._request(
                "GET",
                "/channels/{id}/variable",
                {"id": channel_id},
                {"variable": name},
                read_answer=True,
                may_wait=True,
            )
        except AriError as exc:
            if exc.is_gone and "variable" in exc.message.lower():
                return None
            raise
        return str(data.get("value", "")) if isinstance(data, dict) else None

    async def set_variable(
        self, channel_id: str, name: str, value: str, *, nothing_playing: bool = False
    ) -> None:
        """Set a channel variable (it survives a controller restart, unlike in-memory state).

        Asterisk has the channel's own thread set it, after any prompt it is playing: a caller
        that knows nothing plays (``nothing_playing``) lets it go on the event socket."""
        await self._request(
            "POST",
            "/channels/{id}/variable",
            {"id": channel_id},
            {"variable": name, "value": value},
            may_wait=not nothing_playing,
        )

    async def start_moh(self, *, channel_id: str, moh_class: str | None = None) -> None:
        """Start music on hold on the channel."""
        params: dict[str, str | int] = {"mohClass": moh_class} if moh_class else {}
        await self._request("POST", "/channels/{id}/moh", {"id": channel_id}, params)

    async def stop_moh(self, *, channel_id: str) -> bool:
        """Stop music on hold on the channel; False when the channel was already gone."""
        return await self._delete_if_present("/channels/{id}/moh", {"id": channel_id})

    # --- bridges --------------------------------------------------------------------------

    async def create_bridge(self, bridge_id: str) -> bool:
        """Create a mixing bridge with a fixed id; False when it already exists (409)."""
        try:
            await self._request("POST", "/bridges/{id}", {"id": bridge_id}, {"type": "mixing"})
        except AriError as exc:
            if exc.is_conflict:
                return False
            raise
        return True

    async def get_bridge(self, bridge_id: str) -> Bridge:
        """The bridge's current snapshot (404 when it is gone)."""
        data = await self._request("GET", "/bridges/{id}", {"id": bridge_id}, read_answer=True)
        return Bridge.model_validate(data)

    async def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        """Add channels to a bridge; a channel already in another bridge moves by itself
        (Asterisk waits for each channel's own thread to move it).

        404 bridge gone, 400 a channel not found, 422 a channel not in the application.
        """
        await self._request(
            "POST",
            "/bridges/{id}/addChannel",
            {"id": bridge_id},
            {"channel": ",".join(channel_ids)},
            may_wait=True,
        )

    async def remove_channel(self, bridge_id: str, channel_id: str) -> bool:
        """Take a channel out of a bridge; False when the bridge or channel was already gone
        or the channel was not in it (404, 400, 422 count as done)."""
        try:
            await self._request(
                "POST",
                "/bridges/{id}/removeChannel",
                {"id": bridge_id},
                {"channel": channel_id},
                may_wait=True,
            )
        except AriError as exc:
            if exc.status in (400, 404, 422):
                return False
            raise
        return True

    async def destroy_bridge(self, bridge_id: str) -> bool:
        """Destroy a bridge (its channels stay up); False when it was already gone."""
        return await self._delete_if_present("/bridges/{id}", {"id": bridge_id})

    # --- application and system -------------------------------------------------------------

    async def application_state(self) -> ApplicationState:
        """The channels and bridges Asterisk still holds for this application."""
        answer = await self._request(
            "GET", "/applications/{app}", {"app": self.app}, read_answer=True
        )
        data = answer if isinstance(answer, dict) else {}
        return ApplicationState(
            channel_ids=tuple(str(c) for c in data.get("channel_ids", ())),
            bridge_ids=tuple(str(b) for b in data.get("bridge_ids", ())),
        )

    async def subscribe_to_channel(self, channel_id: str) -> None:
        """Keep this application told of the channel's events after it leaves the
        application (``POST /applications/{app}/subscription``), until it is destroyed."""
        await self._request(
            "POST",
            "/applications/{app}/subscription",
            {"app": self.app},
            {"eventSource": f"channel:{channel_id}"},
        )

    async def filter_events(self, types: Iterable[str]) -> None:
        """Have Asterisk send this application only events of ``types`` (Asterisk 13.26+,
        ``PUT /applications/{app}/eventFilter``): a call's dialplan, caller id, connected line,
        variable and bridge-attribute events are then neither serialised nor parsed. The
        answers to requests on the event socket pass the same filter: they are let through
        when the client sends requests there."""
        allowed = {*types, ANSWER_TYPE} if self._socket is not None else set(types)
        body = {"allowed": [{"type": t} for t in sorted(allowed)]}
        await self._request("PUT", "/applications/{app}/eventFilter", {"app": self.app}, body=body)

    async def ping(self) -> str:
        """Check that Asterisk answers; returns its ``asterisk_id``."""
        data = await self._request("GET", "/asterisk/ping", {}, read_answer=True)
        return str(data.get("asterisk_id", "")) if isinstance(data, dict) else ""

    async def reload_module(self, module: str) -> None:
        """Have Asterisk reload a loaded module (``pbx_config`` re-reads ``extensions.conf`` and
        its includes, as ``dialplan reload`` does).

        404 the module is not loaded; 409 it cannot be reloaded now (another reload in
        progress, an error while reloading). While Asterisk is still starting it queues the
        reload and answers 202, which counts as done.
        """
        await self._request("PUT", "/asterisk/modules/{module}", {"module": module}, may_wait=True)


def _error_message(answer: str | bytes | None, reason: str) -> str:
    """Asterisk's error body is ``{"message": "..."}``; fall back to the reason phrase."""
    try:
        data = orjson.loads(answer or b"")
    except ValueError:
        return reason
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return reason
