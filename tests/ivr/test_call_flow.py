"""A call's flow takes one event at a time, and its timers run out only on their clock."""

from __future__ import annotations

import asyncio

from virtual_clock import VirtualClock

from ivr.call.flow import CallerKey, Flow, FlowEvent
from ivr.call.timers import CallTimers, TimerHandle


async def test_a_delivery_returns_only_once_the_flow_has_reacted_and_waits_again() -> None:
    flow = Flow()
    seen: list[FlowEvent | str] = []
    reacting, may_finish = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        seen.append(await flow.receive())
        reacting.set()
        await may_finish.wait()  # the reaction takes a while (requests to Asterisk)
        seen.append("reacted")
        seen.append(await flow.receive())

    flow.start(run(), name="test-flow")
    await flow.settled()
    delivery = asyncio.create_task(flow.deliver(CallerKey("1")))
    await reacting.wait()
    assert not delivery.done(), "the next event waits for the flow's reaction"
    may_finish.set()
    await delivery
    assert seen == [CallerKey("1"), "reacted"]

    await flow.deliver(CallerKey("2"))
    assert seen[-1] == CallerKey("2")
    assert flow.failure() is None


async def test_a_flow_stopped_where_it_waits_gets_nothing_more() -> None:
    flow = Flow()
    received: list[FlowEvent] = []

    async def run() -> None:
        while True:
            received.append(await flow.receive())

    flow.start(run(), name="test-flow")
    await flow.settled()
    await flow.stop()
    await flow.deliver(CallerKey("5"))
    assert received == []


async def test_a_flow_that_dies_of_a_bug_says_so() -> None:
    flow = Flow()

    async def run() -> None:
        await flow.receive()
        raise RuntimeError("a bug")

    flow.start(run(), name="test-flow")
    await flow.deliver(CallerKey("1"))
    assert isinstance(flow.failure(), RuntimeError)


async def test_call_timers_expire_on_their_clock_in_order_unless_cancelled() -> None:
    clock = VirtualClock()
    expired: list[str] = []
    all_in = asyncio.Event()

    async def on_expiry(name: str, handle: TimerHandle) -> None:
        if timers.take(name, handle):
            expired.append(name)
        if len(expired) == 2:
            all_in.set()

    timers = CallTimers(clock, on_expiry)
    timers.start("accept", 15.0)
    timers.start("ring", 5.5)
    timers.start("menu", 1.0)
    timers.cancel("menu")
    assert timers.pending == {"accept": 15.0, "ring": 5.5}

    assert clock.advance(5.4) == 0
    assert clock.advance(10.0) == 2  # 15.4 s in: the ring timer, then the accept timer
    await all_in.wait()
    assert expired == ["ring", "accept"]
    assert not timers.running


async def test_an_expiry_not_taken_yet_dies_with_the_call() -> None:
    clock = VirtualClock()
    waiting, cancelled = asyncio.Event(), asyncio.Event()

    async def on_expiry(name: str, handle: TimerHandle) -> None:
        waiting.set()
        try:
            await asyncio.Event().wait()  # the call's lock, held by the event that ends it
        except asyncio.CancelledError:
            cancelled.set()
            raise

    timers = CallTimers(clock, on_expiry)
    timers.start("ring", 5.5)
    clock.advance(5.5)
    await waiting.wait()
    timers.cancel_all()
    await asyncio.wait_for(cancelled.wait(), 5)
    assert not timers.running
