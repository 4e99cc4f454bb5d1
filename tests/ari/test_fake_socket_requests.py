"""The fake answers ARI REST requests made on the event WebSocket as Asterisk 22.4+ does: the
same handlers and answers as over HTTP, one request at a time, through the event filter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from ari_testing import APP, PASSWORD, USER

from ivr.ari.client import basic_auth_header
from switchsim import FakeAri, FakeSwitch

AUTH = {"Authorization": basic_auth_header(USER, PASSWORD)}


class EventSocket:
    """An event WebSocket opened with aiohttp directly: requests out, frames in."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        """Frames other than answers, in the order they came."""

    async def send(self, method: str, uri: str, **fields: Any) -> None:
        await self.ws.send_str(
            json.dumps({"type": "RESTRequest", "method": method, "uri": uri, **fields})
        )

    async def answer(self) -> dict[str, Any]:
        """The next RESTResponse, keeping the events read before it."""
        while True:
            message = await self.ws.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            frame: dict[str, Any] = json.loads(message.data)
            if frame["type"] == "RESTResponse":
                return frame
            self.events.append(frame)

    async def request(self, method: str, uri: str, **fields: Any) -> dict[str, Any]:
        await self.send(method, uri, **fields)
        return await self.answer()

    async def frames_until(self, event_type: str) -> list[dict[str, Any]]:
        """Every frame up to the first event of ``event_type``, answers included."""
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != event_type:
            message = await self.ws.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            frames.append(json.loads(message.data))
        return frames

    async def pong(self) -> list[dict[str, Any]]:
        """Ping and wait for the pong: the fake has read every frame sent before. The frames
        that came meanwhile (on a socket opened without autoping)."""
        await self.ws.ping()
        frames: list[dict[str, Any]] = []
        while (message := await self.ws.receive(timeout=5)).type is not aiohttp.WSMsgType.PONG:
            frames.append(json.loads(message.data))
        return frames


@pytest.fixture
async def http(fake: FakeAri) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.url, headers=AUTH) as session:
        yield session


async def open_socket(
    session: aiohttp.ClientSession, *, autoping: bool = True
) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(f"/ari/events?app={APP}", autoping=autoping)


@pytest.fixture
async def sock(http: aiohttp.ClientSession) -> AsyncIterator[EventSocket]:
    async with await open_socket(http) as ws:
        yield EventSocket(ws)


async def over_http(
    http: aiohttp.ClientSession, method: str, path: str, **params: str
) -> tuple[int, str | None]:
    async with http.request(method, f"/ari/{path}", params=params) as response:
        body = await response.text()
        return response.status, body or None


def status_and_body(answer: dict[str, Any]) -> tuple[int, str | None]:
    return answer["status_code"], answer.get("message_body")


async def test_a_call_handled_over_the_socket_is_answered_as_over_http(
    fake: FakeAri, sock: EventSocket, http: aiohttp.ClientSession
) -> None:
    on_socket = fake.switch.place_call(answered=False)
    on_http = fake.switch.place_call(answered=False)

    answered = await sock.request("POST", f"channels/{on_socket}/answer", request_id="1")
    assert status_and_body(answered) == (204, None)
    assert status_and_body(answered) == await over_http(http, "POST", f"channels/{on_http}/answer")
    assert answered == {
        "type": "RESTResponse",
        "transaction_id": "",
        "request_id": "1",
        "status_code": 204,
        "reason_phrase": "No Content",
        "uri": f"channels/{on_socket}/answer",
        "application": APP,
    }

    query = [{"name": "variable", "value": "LANG"}, {"name": "value", "value": "fr"}]
    set_variable = await sock.request("POST", f"channels/{on_socket}/variable", query_strings=query)
    assert status_and_body(set_variable) == await over_http(
        http, "POST", f"channels/{on_http}/variable", variable="LANG", value="fr"
    )
    got = await sock.request("GET", f"channels/{on_socket}/variable?variable=LANG")
    assert status_and_body(got) == (200, '{"value":"fr"}')
    assert status_and_body(got) == await over_http(
        http, "GET", f"channels/{on_http}/variable", variable="LANG"
    )

    media = [{"name": "media", "value": "sound:ivr311/greeting"}]
    played = await sock.request("POST", f"channels/{on_socket}/play/pb-1", query_strings=media)
    assert played["reason_phrase"] == "Created" and played["content_type"] == "application/json"
    http_status, http_body = await over_http(
        http, "POST", f"channels/{on_http}/play/pb-2", media="sound:ivr311/greeting"
    )
    assert http_body is not None
    assert status_and_body(played) == (
        http_status,
        http_body.replace(on_http, on_socket).replace("pb-2", "pb-1"),
    )

    channel = await sock.request("GET", f"channels/{on_socket}")
    assert status_and_body(channel) == await over_http(http, "GET", f"channels/{on_socket}")
    assert json.loads(channel["message_body"])["state"] == "Up"

    on_the_socket = [r for r in fake.requests if r.transport == "socket"]
    assert [(r.method, r.path, r.status) for r in on_the_socket] == [
        ("POST", f"/ari/channels/{on_socket}/answer", 204),
        ("POST", f"/ari/channels/{on_socket}/variable", 204),
        ("GET", f"/ari/channels/{on_socket}/variable", 200),
        ("POST", f"/ari/channels/{on_socket}/play/pb-1", 201),
        ("GET", f"/ari/channels/{on_socket}", 200),
    ]
    assert all(r.authorization_header for r in on_the_socket)


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        ("GET", "channels/nobody"),
        ("POST", "channels/nobody/answer"),
        ("GET", "nothing/here"),
        ("PUT", "channels/nobody"),
    ],
)
async def test_a_request_http_refuses_is_refused_alike_on_the_socket(
    sock: EventSocket, http: aiohttp.ClientSession, method: str, uri: str
) -> None:
    answer = await sock.request(method, uri, transaction_id="t-9")

    status, body = await over_http(http, method, uri)
    assert status >= 400
    assert status_and_body(answer) == (status, body)
    assert (answer["transaction_id"], answer["uri"]) == ("t-9", uri)


async def test_an_unknown_channel_is_404_channel_not_found(sock: EventSocket) -> None:
    answer = await sock.request("GET", "channels/nobody")

    assert (answer["status_code"], answer["reason_phrase"]) == (404, "Not Found")
    assert json.loads(answer["message_body"]) == {"message": "Channel not found"}


@pytest.mark.parametrize(
    ("frame", "message", "uri"),
    [
        ({"method": "GET", "uri": "asterisk/ping"}, "No 'type' property.", ""),
        ({"type": "RESTResponse", "method": "GET", "uri": "x"}, "Unknown request type.", ""),
        ({"type": "RESTRequest", "method": "GET"}, "Empty or missing 'uri' property.", ""),
        (
            {"type": "RESTRequest", "method": "GET", "uri": ""},
            "Empty or missing 'uri' property.",
            "",
        ),
        (
            {"type": "RESTRequest", "uri": "asterisk/ping?x=1"},
            "Unknown or missing 'method' property.",
            "asterisk/ping",
        ),
        (
            {"type": "RESTRequest", "method": "get", "uri": "asterisk/ping"},
            "Unknown or missing 'method' property.",
            "asterisk/ping",
        ),
        (
            {
                "type": "RESTRequest",
                "method": "GET",
                "uri": "asterisk/ping",
                "query_strings": [{"name": "x"}],
            },
            "Unable to parse 'query_strings' array.",
            "asterisk/ping",
        ),
        (
            {
                "type": "RESTRequest",
                "method": "GET",
                "uri": "asterisk/ping",
                "query_strings": ["x=1"],
            },
            "Unable to parse 'query_strings' array.",
            "asterisk/ping",
        ),
        (
            {"type": "RESTRequest", "method": "GET", "uri": "asterisk/ping", "message_body": "{}"},
            "No 'content_type' for 'message_body'.",
            "asterisk/ping",
        ),
        (
            {
                "type": "RESTRequest",
                "method": "GET",
                "uri": "asterisk/ping",
                "content_type": "application/json",
                "message_body": "{not json",
            },
            "Unable to parse 'message_body' as 'application/json'.",
            "asterisk/ping",
        ),
        (
            {
                "type": "RESTRequest",
                "method": "GET",
                "uri": "asterisk/ping",
                "content_type": "text/plain",
                "message_body": "hello",
            },
            "Unknown content type.",
            "asterisk/ping",
        ),
        (
            {"type": "RESTRequest", "method": "GET", "uri": "events"},
            "Can't upgrade to websocket from a websocket",
            "events",
        ),
    ],
)
async def test_a_malformed_request_is_400_bad_request(
    sock: EventSocket, frame: dict[str, Any], message: str, uri: str
) -> None:
    await sock.ws.send_str(json.dumps({"request_id": "r-1", "transaction_id": "t-1", **frame}))

    answer = await sock.answer()

    assert answer == {
        "type": "RESTResponse",
        "transaction_id": "t-1",
        "request_id": "r-1",
        "status_code": 400,
        "reason_phrase": "Bad request",
        "uri": uri,
        "content_type": "application/json",
        "message_body": json.dumps({"message": message}, separators=(",", ":")),
        "application": APP,
    }


@pytest.mark.parametrize("frame", ["not json", '"a bare string"', "{"])
async def test_a_frame_that_is_not_json_is_400_and_the_socket_stays(
    sock: EventSocket, frame: str
) -> None:
    await sock.ws.send_str(frame)

    assert await sock.answer() == {
        "type": "RESTResponse",
        "transaction_id": "",
        "request_id": "",
        "status_code": 400,
        "reason_phrase": "Failed to parse request message JSON",
        "uri": "",
        "application": APP,
    }
    assert (await sock.request("GET", "asterisk/ping"))["status_code"] == 200


async def test_the_query_in_the_uri_comes_with_query_strings(
    fake: FakeAri, sock: EventSocket
) -> None:
    cid = fake.switch.place_call()

    played = await sock.request(
        "POST",
        f"channels/{cid}/play/pb-1?lang=fr&media=sound:a",
        query_strings=[{"name": "media", "value": "sound:b"}],
    )

    assert played["uri"] == f"channels/{cid}/play/pb-1"
    assert json.loads(played["message_body"])["language"] == "fr"
    assert [p.media for p in fake.switch.record(cid).plays] == [("sound:a", "sound:b")]
    assert fake.requests[-1].query_string == "lang=fr&media=sound:a&media=sound:b"


async def test_a_form_encoded_body_adds_parameters(fake: FakeAri, sock: EventSocket) -> None:
    cid = fake.switch.place_call()

    answer = await sock.request(
        "POST",
        f"channels/{cid}/variable?variable=QUEUE",
        content_type="application/x-www-form-urlencoded",
        message_body="value=billing+desk",
    )

    assert answer["status_code"] == 204
    assert fake.switch.channels[cid].variables["QUEUE"] == "billing desk"


async def test_a_json_body_reaches_the_handler(fake: FakeAri, sock: EventSocket) -> None:
    answer = await sock.request(
        "PUT",
        f"applications/{APP}/eventFilter",
        content_type="application/json",
        message_body=json.dumps({"allowed": [{"type": "StasisStart"}, {"type": "RESTResponse"}]}),
    )

    assert json.loads(answer["message_body"])["events_allowed"] == [
        {"type": "RESTResponse"},
        {"type": "StasisStart"},
    ]


async def test_requests_sent_back_to_back_are_carried_out_and_answered_in_order(
    fake: FakeAri, sock: EventSocket
) -> None:
    cid = fake.switch.place_call()

    for n in range(5):
        await sock.send(
            "POST", f"channels/{cid}/variable?variable=STEP&value={n}", request_id=f"set-{n}"
        )
        await sock.send("GET", f"channels/{cid}/variable?variable=STEP", request_id=f"get-{n}")
    answers = [await sock.answer() for _ in range(10)]

    assert [a["request_id"] for a in answers] == [
        f"{verb}-{n}" for n in range(5) for verb in ("set", "get")
    ]
    assert [a["message_body"] for a in answers[1::2]] == [f'{{"value":"{n}"}}' for n in range(5)]


async def test_a_filter_without_restresponse_drops_answers_not_requests(
    fake: FakeAri, sock: EventSocket, http: aiohttp.ClientSession
) -> None:
    cid = fake.switch.place_call()
    async with http.put(
        f"/ari/applications/{APP}/eventFilter", json={"allowed": [{"type": "StasisStart"}]}
    ) as filtered:
        assert filtered.status == 200

    await sock.send("POST", f"channels/{cid}/variable?variable=A&value=1", request_id="unheard")
    allow_answers = {"allowed": [{"type": "StasisStart"}, {"type": "RESTResponse"}]}
    await sock.send(
        "PUT",
        f"applications/{APP}/eventFilter",
        request_id="filter",
        content_type="application/json",
        message_body=json.dumps(allow_answers),
    )

    assert (await sock.answer())["request_id"] == "filter"
    assert fake.switch.channels[cid].variables["A"] == "1"
    on_the_socket = [(r.path, r.status) for r in fake.requests if r.transport == "socket"]
    assert on_the_socket[:2] == [
        (f"/ari/channels/{cid}/variable", 204),
        (f"/ari/applications/{APP}/eventFilter", 200),
    ]


async def test_an_asterisk_before_22_4_ignores_requests_on_the_socket() -> None:
    switch = FakeSwitch()
    async with (
        FakeAri(user=USER, password=PASSWORD, switch=switch, requests_over_socket=False) as fake,
        aiohttp.ClientSession(fake.url, headers=AUTH) as http,
        await open_socket(http, autoping=False) as ws,
    ):
        sock = EventSocket(ws)
        await sock.send("GET", "asterisk/ping", request_id="ignored")
        await sock.send("POST", "channels/nobody/answer", request_id="ignored too")
        meanwhile = await sock.pong()

        switch.place_call()
        after = await sock.frames_until("StasisStart")

        assert [frame["type"] for frame in meanwhile + after] == ["StasisStart"]
        assert not [r for r in fake.requests if r.transport == "socket"]


async def test_a_lost_answer_drops_the_socket_after_carrying_the_request_out(
    fake: FakeAri, sock: EventSocket
) -> None:
    cid = fake.switch.place_call(answered=False)
    fake.lose_next_answer("POST", f"/ari/channels/{cid}/answer")

    await sock.send("POST", f"channels/{cid}/answer")

    frames = []
    while (message := await sock.ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
        frames.append(json.loads(message.data)["type"])
    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert "RESTResponse" not in frames
    assert fake.switch.record(cid).answered
    assert (fake.requests[-1].transport, fake.requests[-1].status) == ("socket", 0)


async def test_a_held_request_holds_the_requests_after_it_on_its_socket(
    fake: FakeAri, sock: EventSocket
) -> None:
    cid = fake.switch.place_call(answered=False)
    held = fake.hold_next("POST", f"/ari/channels/{cid}/answer")

    await sock.send("POST", f"channels/{cid}/answer", request_id="answer")
    await sock.send("GET", f"channels/{cid}", request_id="look")
    await held.arrived.wait()
    assert fake.switch.channels[cid].state == "Ring"
    held.release()

    first, second = await sock.answer(), await sock.answer()
    assert (first["request_id"], first["status_code"]) == ("answer", 204)
    assert second["request_id"] == "look"
    assert json.loads(second["message_body"])["state"] == "Up"
    assert held.done.is_set()
