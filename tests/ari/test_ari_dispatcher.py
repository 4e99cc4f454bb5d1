"""Per-call ordering: one call's events in order, different calls concurrently, floods bounded."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from ari_testing import EventCollector
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.ari import AriEvent, CallDispatcher
from ivr.ari.events import ChannelDtmfReceived, StasisEnd, StasisStart, parse_event
from switchsim import FakeAri


def frame(payload: dict[str, object]) -> AriEvent:
    event = parse_event(json.dumps(payload))
    assert event is not None
    return event


def dtmf(channel_id: str, digit: str) -> AriEvent:
    return frame(
        {
            "type": "ChannelDtmfReceived",
            "digit": digit,
            "duration_ms": 100,
            "channel": {"id": channel_id},
        }
    )


def stasis_end(channel_id: str) -> AriEvent:
    return frame({"type": "StasisEnd", "channel": {"id": channel_id}})


async def test_each_call_in_order_calls_concurrently() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    in_flight: set[str] = set()
    overlap = asyncio.Event()
    release = asyncio.Event()

    async def handler(key: str, event: AriEvent) -> None:
        in_flight.add(key)
        if len(in_flight) == 2:
            overlap.set()
        await release.wait()  # every handler blocks until both calls are inside one
        assert isinstance(event, ChannelDtmfReceived)
        seen[key].append(event.digit)
        in_flight.discard(key)

    dispatcher = CallDispatcher(handler)
    for digit in "123":
        dispatcher.dispatch(dtmf("a", digit))
        dispatcher.dispatch(dtmf("b", digit))
    await asyncio.wait_for(overlap.wait(), 5)  # both calls were being handled at once
    release.set()
    await asyncio.wait_for(dispatcher.join(), 5)

    assert seen == {"a": ["1", "2", "3"], "b": ["1", "2", "3"]}
    assert dispatcher.active_keys == frozenset()


async def test_a_dtmf_flood_on_one_call_does_not_stall_another() -> None:
    handled_b = asyncio.Event()
    flood_gate = asyncio.Event()
    handled: dict[str, int] = defaultdict(int)

    async def handler(key: str, event: AriEvent) -> None:
        if key == "flood":
            await flood_gate.wait()
        handled[key] += 1
        if key == "quiet":
            handled_b.set()

    dispatcher = CallDispatcher(handler, max_pending=16)
    for _ in range(10_000):
        dispatcher.dispatch(dtmf("flood", "5"))
    dispatcher.dispatch(stasis_end("flood"))  # lifecycle events are never dropped
    dispatcher.dispatch(dtmf("quiet", "1"))

    await asyncio.wait_for(handled_b.wait(), 5)
    assert handled["flood"] == 0
    assert dispatcher.pending("flood") <= 17
    assert dispatcher.dropped >= 10_000 - 17
    flood_gate.set()
    await asyncio.wait_for(dispatcher.join(), 5)
    accepted = 10_001 - dispatcher.dropped
    assert handled["flood"] == accepted <= 17


async def test_a_failing_handler_does_not_stop_the_calls_next_event() -> None:
    seen: list[str] = []

    async def handler(key: str, event: AriEvent) -> None:
        assert isinstance(event, ChannelDtmfReceived)
        if event.digit == "1":
            raise RuntimeError("boom")
        seen.append(event.digit)

    dispatcher = CallDispatcher(handler)
    dispatcher.dispatch(dtmf("a", "1"))
    dispatcher.dispatch(dtmf("a", "2"))
    await asyncio.wait_for(dispatcher.join(), 5)
    assert seen == ["2"]


async def test_the_consumer_chooses_the_key() -> None:
    """An originated leg's events go to its caller's call, in one order."""
    legs = {"leg-1": "caller-1"}
    seen: list[tuple[str, str]] = []

    async def handler(key: str, event: AriEvent) -> None:
        seen.append((key, event.type))

    def key_for(event: AriEvent) -> str | None:
        if isinstance(event, StasisStart | StasisEnd | ChannelDtmfReceived):
            return legs.get(event.channel.id, event.channel.id)
        return None

    dispatcher = CallDispatcher(handler, key_for=key_for)
    dispatcher.dispatch(dtmf("caller-1", "0"))
    dispatcher.dispatch(dtmf("leg-1", "1"))
    assert dispatcher.dispatch(frame({"type": "Other"})) is False
    await asyncio.wait_for(dispatcher.join(), 5)

    assert seen == [("caller-1", "ChannelDtmfReceived"), ("caller-1", "ChannelDtmfReceived")]
    assert dispatcher.unrouted == 1


async def test_ordering_end_to_end_over_the_websocket(
    fake: FakeAri, events: EventCollector
) -> None:
    """Many calls pressing keys at once: each call's handler sees its own digits in order."""
    seen: dict[str, str] = defaultdict(str)

    async def handler(key: str, event: AriEvent) -> None:
        if isinstance(event, ChannelDtmfReceived):
            await asyncio.sleep(0)  # let other calls interleave
            seen[key] += event.digit

    dispatcher = CallDispatcher(handler)
    calls = [fake.switch.place_call() for _ in range(20)]
    for digits in ("123", "456", "789"):
        for cid in calls:
            fake.switch.press(cid, digits)
    await events.wait_for(
        lambda evs: sum(isinstance(e, ChannelDtmfReceived) for e in evs) == 20 * 9
    )
    for event in events.events:
        dispatcher.dispatch(event)
    await asyncio.wait_for(dispatcher.join(), 5)

    assert {seen[cid] for cid in calls} == {"123456789"}


async def test_aclose_cancels_pending_work() -> None:
    started = asyncio.Event()

    async def handler(key: str, event: AriEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    dispatcher = CallDispatcher(handler)
    dispatcher.dispatch(dtmf("a", "1"))
    dispatcher.dispatch(dtmf("a", "2"))
    await asyncio.wait_for(started.wait(), 5)
    await dispatcher.aclose()
    assert dispatcher.active_keys == frozenset()
    assert dispatcher.pending("a") == 0


async def test_a_dtmf_flood_over_the_websocket_does_not_stall_a_new_call(
    fake: FakeAri, events: EventCollector
) -> None:
    gate = asyncio.Event()
    other_started = asyncio.Event()
    flooding: set[str] = set()

    async def handler(key: str, event: AriEvent) -> None:
        if key in flooding:
            await gate.wait()
        elif isinstance(event, StasisStart):
            other_started.set()

    dispatcher = CallDispatcher(handler, max_pending=32)
    events.listeners.append(dispatcher.dispatch)
    flood = fake.switch.place_call("311", "9055550001")
    flooding.add(flood)
    fake.switch.press(flood, "5" * 5000)
    fake.switch.place_call("311", "9055550002")

    await asyncio.wait_for(other_started.wait(), 5)
    assert dispatcher.dropped > 0
    gate.set()
    await asyncio.wait_for(dispatcher.join(), 5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 9), st.booleans()),
        max_size=60,
    )
)
def test_every_key_sees_its_events_in_arrival_order(
    arrivals: list[tuple[str, int, bool]],
) -> None:
    """Whatever the interleaving and however handlers yield, per-key order is arrival order."""

    async def run() -> dict[str, list[str]]:
        seen: dict[str, list[str]] = defaultdict(list)

        async def handler(key: str, event: AriEvent) -> None:
            assert isinstance(event, ChannelDtmfReceived)
            if event.duration_ms:
                await asyncio.sleep(0)  # yield so other keys interleave
            seen[key].append(event.digit)

        dispatcher = CallDispatcher(handler, max_pending=1000)
        for key, digit, yields in arrivals:
            dispatcher.dispatch(
                frame(
                    {
                        "type": "ChannelDtmfReceived",
                        "digit": str(digit),
                        "duration_ms": 1 if yields else 0,
                        "channel": {"id": key},
                    }
                )
            )
        await asyncio.wait_for(dispatcher.join(), 5)
        return seen

    seen = asyncio.run(run())
    for key in "abc":
        assert seen.get(key, []) == [str(d) for k, d, _ in arrivals if k == key]
