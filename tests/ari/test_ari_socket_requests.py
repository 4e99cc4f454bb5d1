"""Requests on the event socket: which go there, which stay on HTTP, and what happens to them
when the socket cannot take them (an older Asterisk) or drops under them."""

from __future__ import annotations

import asyncio
import json

import pytest
from ari_testing import APP, FAST_BACKOFF, PASSWORD, USER, EventCollector
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.ari import AriClient, AriError, AriEventStream
from ivr.ari.socket_requests import SocketRequests
from switchsim import FakeAri


def _transports(fake: FakeAri, path_end: str) -> list[str]:
    return [r.transport for r in fake.requests if r.path.endswith(path_end)]


ON_SOCKET = pytest.mark.parametrize("socket_requests", ["socket"], indirect=True)
"""`client` sends on the socket of `events`, proved (`conftest.socket_requests`)."""


@ON_SOCKET
async def test_requests_go_on_the_socket_except_those_that_may_wait_inside_asterisk(
    fake: FakeAri, client: AriClient
) -> None:
    cid = fake.switch.place_call(answered=False)
    await client.answer(cid)
    await client.play(cid, "pb-1", ["sound:ivr311/greeting"])
    await client.set_variable(cid, "WHILE_PLAYING", "1")
    await client.stop_playback("pb-1")
    await client.set_variable(cid, "NOTHING_PLAYING", "1", nothing_playing=True)
    await client.get_channel(cid)
    await client.originate("leg-1", "PJSIP/+12895550101@centre")

    assert _transports(fake, "/answer") == ["http"]  # the channel's own thread answers
    assert _transports(fake, "/play/pb-1") == ["socket"]
    assert _transports(fake, "/playbacks/pb-1") == ["socket"]
    assert _transports(fake, "/variable") == ["http", "socket"]
    assert _transports(fake, f"/channels/{cid}") == ["socket"]
    assert _transports(fake, "/channels/leg-1") == ["http"]  # dialling waits on the network
    assert fake.switch.get_variable(cid, "NOTHING_PLAYING") == {"value": "1"}


async def test_an_asterisk_that_ignores_requests_on_the_socket_gets_them_over_http() -> None:
    async with FakeAri(user=USER, password=PASSWORD, requests_over_socket=False) as fake:
        requests = SocketRequests(probe_timeout_s=0.05)
        events = EventCollector(
            AriEventStream(fake.url, USER, PASSWORD, APP, backoff=FAST_BACKOFF, requests=requests)
        )
        events.start()
        async with asyncio.timeout(5):
            assert not await requests.proved()
        async with AriClient(fake.url, USER, PASSWORD, APP, socket=requests) as client:
            cid = fake.switch.place_call()
            await client.play(cid, "pb-1", ["sound:ivr311/greeting"])
        await events.close()

    assert _transports(fake, "/play/pb-1") == ["http"]


@ON_SOCKET
async def test_the_event_filter_lets_the_answers_through(fake: FakeAri, client: AriClient) -> None:
    """Asterisk filters its answers like events: a filter without them would leave every
    request on the socket unanswered."""
    await client.filter_events({"StasisStart", "ChannelDestroyed"})
    cid = fake.switch.place_call()
    async with asyncio.timeout(5):
        await client.play(cid, "pb-1", ["sound:ivr311/greeting"])
    assert _transports(fake, "/play/pb-1") == ["socket"]


@ON_SOCKET
async def test_a_socket_dropping_under_a_request_fails_it_as_unanswered_then_it_is_retried(
    fake: FakeAri, client: AriClient
) -> None:
    """The socket drops with the request read (Asterisk carried it out): a request safe to
    repeat is sent again, over HTTP while no new socket is proved."""
    cid = fake.switch.place_call()
    fake.lose_next_answer("GET", f"/ari/channels/{cid}")
    channel = await client.get_channel(cid)

    assert channel.id == cid
    lost, retried = [r for r in fake.requests if r.path == f"/ari/channels/{cid}"]
    assert (lost.transport, lost.status) == ("socket", 0)
    assert (retried.transport, retried.status) == ("http", 200)


@ON_SOCKET
async def test_closing_the_stream_waits_for_the_answers_to_requests_on_its_socket(
    fake: FakeAri, events: EventCollector, client: AriClient
) -> None:
    """A request Asterisk has read is carried out: the stream keeps its socket open until the
    answer has come, so the caller waiting for it learns how it went."""
    cid = fake.switch.place_call()
    held = fake.hold_next("POST", f"/ari/channels/{cid}/play/")
    play = asyncio.create_task(client.play(cid, "pb-1", ["sound:ivr311/greeting"]))
    async with asyncio.timeout(5):
        await held.arrived.wait()
    closing = asyncio.create_task(events.close())
    held.release()
    async with asyncio.timeout(5):
        await play  # answered, not failed by the socket closing
        await closing
    assert _transports(fake, "/play/pb-1") == ["socket"]


@ON_SOCKET
async def test_an_answer_without_a_status_is_an_error_not_a_crash(
    fake: FakeAri, client: AriClient
) -> None:
    """A garbled answer fails its request as an error answer (502); the stream reads on."""
    cid = fake.switch.place_call()
    held = fake.hold_next("GET", f"/ari/channels/{cid}")
    get = asyncio.create_task(client.get_channel(cid))
    async with asyncio.timeout(5):
        await held.arrived.wait()
    # request ids count from 1, the socket's probe
    fake.send_raw(APP, '{"type":"RESTResponse","request_id":"2","status_code":"OK"}')
    with pytest.raises(AriError) as failed:
        async with asyncio.timeout(5):
            await get
    assert failed.value.status == 502
    held.release()
    async with asyncio.timeout(5):
        await held.done.wait()
        assert (await client.get_channel(cid)).id == cid  # the socket still serves


@given(
    st.dictionaries(
        st.sampled_from(["type", "request_id", "status_code", "reason_phrase", "message_body"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.lists(st.integers()),
    ),
    st.booleans(),
)
@settings(max_examples=200)
def test_any_frame_naming_an_answer_is_taken_without_raising(
    fields: dict[str, object], answer_type: bool
) -> None:
    if answer_type:
        fields["type"] = "RESTResponse"
    requests = SocketRequests()
    frame = json.dumps(fields)
    assert requests.take(frame) == (fields.get("type") == "RESTResponse")
    assert requests.take(frame[: len(frame) // 2] + '"RESTResponse"') is False
