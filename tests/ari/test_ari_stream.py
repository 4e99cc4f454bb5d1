"""The event WebSocket against the fake: typed events, reconnect, reconcile hook, faults."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ari_testing import APP, FAST_BACKOFF, PASSWORD, USER, BackoffProbe, EventCollector
from hypothesis import given
from hypothesis import strategies as st

from ivr.ari import AriClient, AriError, AriEventStream, Backoff
from ivr.ari.events import (
    ApplicationReplaced,
    ChannelDtmfReceived,
    StasisStart,
    UnknownEvent,
)
from switchsim import FakeAri


async def test_events_arrive_typed(fake: FakeAri, events: EventCollector) -> None:
    cid = fake.switch.place_call("311", "9055550123")
    evs = await events.wait_for(lambda evs: any(isinstance(e, StasisStart) for e in evs))
    start = next(e for e in evs if isinstance(e, StasisStart))

    assert start.channel.id == cid
    assert start.args == ("inbound", "311")
    assert start.channel.caller.number == "9055550123"
    assert start.application == APP
    assert events.stream.connected


async def test_on_connect_runs_before_that_connections_events(fake: FakeAri) -> None:
    order: list[str] = []
    reconciled = asyncio.Event()
    client = AriClient(fake.url, USER, PASSWORD, APP)

    async def reconcile() -> None:
        state = await client.application_state()
        order.append(f"reconcile:{len(state.channel_ids)}")
        reconciled.set()

    stream = AriEventStream(fake.url, USER, PASSWORD, APP, on_connect=reconcile)
    collector = EventCollector(stream)
    collector.start()
    await stream.wait_connected(5)
    await asyncio.wait_for(reconciled.wait(), 5)
    fake.switch.place_call()
    await collector.wait_for(lambda evs: bool(evs))
    order.extend(e.type for e in collector.events)

    assert order == ["reconcile:0", "StasisStart"]
    await collector.close()
    await client.close()


async def test_reconnects_after_the_socket_drops_and_reconciles_again(fake: FakeAri) -> None:
    reconciled: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
    disconnects: list[int] = []
    client = AriClient(fake.url, USER, PASSWORD, APP)

    async def reconcile() -> None:
        reconciled.put_nowait((await client.application_state()).channel_ids)

    async def lost() -> None:
        disconnects.append(1)

    stream = AriEventStream(
        fake.url,
        USER,
        PASSWORD,
        APP,
        backoff=FAST_BACKOFF,
        on_connect=reconcile,
        on_disconnect=lost,
    )
    collector = EventCollector(stream)
    collector.start()
    assert await asyncio.wait_for(reconciled.get(), 5) == ()
    cid = fake.switch.place_call()

    await fake.restart(keep_channels=True)  # the controller's socket drops; the call stays

    assert await asyncio.wait_for(reconciled.get(), 5) == (cid,)
    assert stream.connects == 2
    assert disconnects == [1]
    fake.switch.press(cid, "5")
    await collector.wait_for(lambda evs: any(isinstance(e, ChannelDtmfReceived) for e in evs))
    await collector.close()
    await client.close()


async def test_asterisk_down_then_up_backs_off_and_reconnects(fake: FakeAri) -> None:
    backoffs = BackoffProbe()
    stream = AriEventStream(fake.url, USER, PASSWORD, APP, backoff=FAST_BACKOFF, rand=backoffs.draw)
    collector = EventCollector(stream)
    collector.start()
    await stream.wait_connected(5)

    await fake.stop_listening()
    await backoffs.wait_count(3)  # the pause after the drop, then two refused attempts
    assert not stream.connected and stream.failed_attempts >= 2
    assert not fake.switch.app_connected(APP)
    await fake.listen()
    await stream.wait_connected(5)

    assert stream.connects == 2
    await collector.close()


async def test_restart_without_channels_reconciles_to_nothing(fake: FakeAri) -> None:
    seen: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()
    client = AriClient(fake.url, USER, PASSWORD, APP)

    async def reconcile() -> None:
        try:
            seen.put_nowait((await client.application_state()).channel_ids)
        except AriError as exc:  # a restarted Asterisk knows the app only once it connects
            seen.put_nowait((f"error {exc.status}",))

    stream = AriEventStream(
        fake.url, USER, PASSWORD, APP, backoff=FAST_BACKOFF, on_connect=reconcile
    )
    collector = EventCollector(stream)
    collector.start()
    assert await asyncio.wait_for(seen.get(), 5) == ()
    cid = fake.switch.place_call()
    await fake.restart(keep_channels=False)

    assert await asyncio.wait_for(seen.get(), 5) == ()
    assert fake.switch.record(cid).hung_up_by == "restart"
    await collector.close()
    await client.close()


async def test_malformed_frames_are_skipped(fake: FakeAri, events: EventCollector) -> None:
    assert fake.send_raw(APP, "this is not json") == 1
    fake.send_raw(APP, '{"no": "type"}')
    fake.send_raw(APP, '{"type": "StasisStart", "args": []}')  # no channel
    fake.send_raw(APP, '{"type": "SomethingNew", "field": 1}')
    cid = fake.switch.place_call()

    evs = await events.wait_for(lambda evs: any(isinstance(e, StasisStart) for e in evs))
    assert [e.type for e in evs] == ["SomethingNew", "StasisStart"]
    assert isinstance(evs[0], UnknownEvent)
    assert isinstance(evs[1], StasisStart) and evs[1].channel.id == cid
    assert events.stream.connected


async def test_application_replaced_is_surfaced(fake: FakeAri, events: EventCollector) -> None:
    other = EventCollector(AriEventStream(fake.url, USER, PASSWORD, APP))
    other.start()
    await other.stream.wait_connected(5)

    await events.wait_for(lambda evs: any(isinstance(e, ApplicationReplaced) for e in evs))
    assert events.stream.replaced
    cid = fake.switch.place_call()
    await other.wait_for(lambda evs: any(isinstance(e, StasisStart) for e in evs))
    assert not [e for e in events.events if isinstance(e, StasisStart)]
    assert fake.switch.record(cid).entered_app
    await other.close()


async def test_wrong_password_never_connects_and_keeps_trying(fake: FakeAri) -> None:
    backoffs = BackoffProbe()
    stream = AriEventStream(fake.url, USER, "wrong", APP, backoff=FAST_BACKOFF, rand=backoffs.draw)
    collector = EventCollector(stream)
    collector.start()
    await backoffs.wait_count(3)

    assert not stream.connected
    assert stream.last_error == "handshake refused: 401"
    refused = [r for r in fake.requests if r.path == "/ari/events"]
    assert refused and all(r.status == 401 for r in refused)
    await collector.close()


async def test_event_socket_credentials_are_not_in_the_url(
    fake: FakeAri, events: EventCollector
) -> None:
    opened = [r for r in fake.requests if r.path == "/ari/events"]
    assert len(opened) == 1
    assert opened[0].status == 101
    assert opened[0].authorization_header
    assert opened[0].query_string == f"app={APP}"
    assert PASSWORD not in str(events.stream.url)


async def test_close_while_waiting_to_reconnect_ends_promptly() -> None:
    backing_off = asyncio.Event()

    def draw() -> float:
        backing_off.set()
        return 1.0

    stream = AriEventStream(
        "http://127.0.0.1:9",
        USER,
        PASSWORD,
        APP,
        backoff=Backoff(initial_s=60, cap_s=60),
        rand=draw,
    )
    collector = EventCollector(stream)
    collector.start()
    await asyncio.wait_for(backing_off.wait(), 5)
    await collector.close()  # would take a minute if the backoff wait ignored close()
    assert not stream.connected


def test_backoff_grows_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, cap_s=30.0)
    ceilings = [backoff.ceiling(n) for n in range(10)]
    assert ceilings[:4] == [0.5, 1.0, 2.0, 4.0]
    assert ceilings[-1] == 30.0
    assert backoff.delay(3, lambda: 0.5) == 2.0


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    draw=st.floats(min_value=0.0, max_value=0.999999),
    initial=st.floats(min_value=0.001, max_value=5.0),
    cap=st.floats(min_value=0.001, max_value=120.0),
)
def test_backoff_delay_is_full_jitter_within_the_cap(
    attempt: int, draw: float, initial: float, cap: float
) -> None:
    backoff = Backoff(initial_s=initial, cap_s=cap)
    delay = backoff.delay(attempt, lambda: draw)
    assert 0.0 <= delay <= min(cap, backoff.ceiling(attempt))


@dataclass(frozen=True)
class RecordingBackoff(Backoff):
    attempts: list[int] = field(default_factory=list)
    pauses: asyncio.Queue[int] = field(default_factory=asyncio.Queue)

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        self.attempts.append(attempt)
        self.pauses.put_nowait(attempt)
        return 0.0


async def test_a_connection_that_keeps_dropping_keeps_backing_off(fake: FakeAri) -> None:
    backoff = RecordingBackoff()
    stream = AriEventStream(fake.url, USER, PASSWORD, APP, backoff=backoff, stable_after_s=60)
    collector = EventCollector(stream)
    collector.start()
    for _ in range(3):
        await stream.wait_connected(5)
        await fake.drop_connections()
        await asyncio.wait_for(backoff.pauses.get(), 5)

    assert backoff.attempts == [0, 1, 2]
    await collector.close()


async def test_a_stable_connection_resets_the_backoff(fake: FakeAri) -> None:
    backoff = RecordingBackoff()
    stream = AriEventStream(fake.url, USER, PASSWORD, APP, backoff=backoff, stable_after_s=0)
    collector = EventCollector(stream)
    collector.start()
    for _ in range(3):
        await stream.wait_connected(5)
        await fake.drop_connections()
        await asyncio.wait_for(backoff.pauses.get(), 5)

    assert backoff.attempts == [0, 0, 0]
    await collector.close()
