"""ARI REST requests made on the event WebSocket, as Asterisk 22.4+ reads and answers them
(``res/ari/ari_websocket_requests.c``, ``ari_websockets.c``).

A client sends a ``RESTRequest`` text frame::

    {"type": "RESTRequest", "request_id": "1", "transaction_id": "t", "method": "POST",
     "uri": "channels/leg-1/play/pb-1?lang=en", "query_strings": [{"name": "media",
     "value": "sound:hello"}], "content_type": "application/json", "message_body": "{...}"}

`parse_frame` turns it into a `SocketRequest` (carried out like the same HTTP request) or,
when it is malformed, into the ``400 Bad request`` `RestResponse` Asterisk answers. Every
answer is a ``RESTResponse`` frame (`RestResponse.frame`) on the same socket.

As in Asterisk: a frame that is not JSON (an object or an array) gets a 400 without a body;
``uri`` may carry a query string, whose parameters come before ``query_strings``, then those
of a form-encoded body; a ``query_strings`` that is not an array is ignored, as are a
``message_body`` that is empty or not a string, and ids that are not strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"})
"""The method names Asterisk knows (``ast_get_http_method_from_string``), case and all."""

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class RestResponse:
    """Asterisk's answer to one frame."""

    transaction_id: str
    request_id: str
    uri: str
    status: int
    reason: str
    body: str | None = None
    """JSON text; None for an answer without a body (204)."""

    def frame(self, app: str) -> dict[str, Any]:
        """The ``RESTResponse`` frame, sent on behalf of the socket's (first) application."""
        frame: dict[str, Any] = {
            "type": "RESTResponse",
            "transaction_id": self.transaction_id,
            "request_id": self.request_id,
            "status_code": self.status,
            "reason_phrase": self.reason,
            "uri": self.uri,
        }
        if self.body is not None:
            frame["content_type"] = JSON
            frame["message_body"] = self.body
        frame["application"] = app
        return frame


@dataclass(frozen=True)
class SocketRequest:
    """A ``RESTRequest`` read from a socket; an `switchsim.ari_rest.AriRequest`."""

    method: str
    uri: str
    """As sent, without its query string (and still %-encoded): echoed in the answer."""
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    """The WebSocket upgrade's: Asterisk authenticates the request with them."""
    body: Any
    """The parsed JSON body; None without one."""
    transaction_id: str
    request_id: str
    match_info: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return "/ari/" + unquote(self.uri)

    @property
    def query_string(self) -> str:
        """As an HTTP client would have written it (``media=sound:a,sound:b``)."""
        return urlencode(list(self.query.items()), safe=":/,")

    @property
    def can_read_body(self) -> bool:
        return self.body is not None

    async def json(self) -> Any:
        return self.body

    def answer(self, response: web.StreamResponse) -> RestResponse:
        """The answer carrying what the HTTP request would have got."""
        body = response.text if isinstance(response, web.Response) else None
        return RestResponse(
            self.transaction_id, self.request_id, self.uri, response.status, response.reason, body
        )

    def refuse(self, message: str) -> RestResponse:
        """A ``400 Bad request`` answer to a well-formed request Asterisk will not carry out."""
        return _bad_request(self.transaction_id, self.request_id, self.uri, message)


NOT_JSON = RestResponse("", "", "", 400, "Failed to parse request message JSON")


def parse_frame(text: str, headers: CIMultiDictProxy[str]) -> SocketRequest | RestResponse:
    """The request in a text frame, or the answer refusing it; ``headers`` are the upgrade's."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return NOT_JSON
    if not isinstance(message, dict | list):  # jansson's default: no bare scalars
        return NOT_JSON
    fields = message if isinstance(message, dict) else {}
    transaction_id = _string(fields, "transaction_id")
    request_id = _string(fields, "request_id")

    def refuse(message: str, uri: str = "") -> RestResponse:
        return _bad_request(transaction_id, request_id, uri, message)

    type_ = _string(fields, "type")
    if not type_:
        return refuse("No 'type' property.")
    if type_ != "RESTRequest":
        return refuse("Unknown request type.")
    uri, _, uri_query = _string(fields, "uri").partition("?")
    if not uri:
        return refuse("Empty or missing 'uri' property.")
    query = MultiDict(parse_qsl(uri_query, keep_blank_values=True))
    method = _string(fields, "method")
    if method not in METHODS:
        return refuse("Unknown or missing 'method' property.", uri)
    pairs = fields.get("query_strings")
    if isinstance(pairs, list):
        if not all(_is_pair(pair) for pair in pairs):
            return refuse("Unable to parse 'query_strings' array.", uri)
        query.extend((pair["name"], pair["value"]) for pair in pairs)
    body: Any = None
    message_body = _string(fields, "message_body")
    if message_body:
        content_type = _string(fields, "content_type")
        if not content_type:
            return refuse("No 'content_type' for 'message_body'.", uri)
        if content_type == FORM:
            form = parse_qsl(message_body, keep_blank_values=True)
            if not form:
                return refuse(f"Unable to parse 'message_body' as '{FORM}'.", uri)
            query.extend(form)
        elif content_type == JSON:
            try:
                body = orjson.loads(message_body)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict | list):
                return refuse(f"Unable to parse 'message_body' as '{JSON}'.", uri)
        else:
            return refuse("Unknown content type.", uri)
    return SocketRequest(
        method, uri, MultiDictProxy(query), headers, body, transaction_id, request_id
    )


def _bad_request(transaction_id: str, request_id: str, uri: str, message: str) -> RestResponse:
    body = orjson.dumps({"message": message}).decode()
    return RestResponse(transaction_id, request_id, uri, 400, "Bad request", body)


def _string(fields: dict[str, Any], name: str) -> str:
    """A string property; "" when absent or not a string (Asterisk reads both as missing)."""
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def _is_pair(pair: Any) -> bool:
    return (
        isinstance(pair, dict)
        and isinstance(pair.get("name"), str)
        and isinstance(pair.get("value"), str)
    )
