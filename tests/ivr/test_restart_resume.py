"""A controller that dies (no drain, no clean-up) and a new one that takes its calls over from
the state each call saved on its caller's channel; a dropped event socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from ivr_testing import (
    BUSINESS_HOURS,
    GREETING,
    Harness,
    fallback_choice,
    fast_settings,
    inside_number,
    menu_number,
)
from virtual_clock import VirtualClock

from ivr.call import STATE_VARIABLE, CallState, SavedCall, ids
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text
from switchsim import ChannelRecord, FakeSwitch, Outcome, RequestRecord, SwitchError
from switchsim.simulation import simulated_controller, simulated_settings

FALLBACK = ("ivr311-fallback", "311", 1)
MENU_INTRO = "sound:ivr311/menu-intro"
STATUS_ASK = "sound:ivr311/status-ask"


@pytest.fixture(scope="module")
def long_rings() -> RuleSnapshot:
    """The Durham demo rules with rings of a minute: a leg rings until the test answers it."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    assert "ring_timeout_s: 20" in text
    text = text.replace("ring_timeout_s: 20", "ring_timeout_s: 60")
    return snapshot_from_text(text, default_geo(), source="test:durham-long-rings")


@pytest.fixture
async def harness(long_rings: RuleSnapshot) -> AsyncIterator[Harness]:
    """The controller tests' harness, with destinations that ring until answered."""
    clock = [BUSINESS_HOURS]
    switch = FakeSwitch(
        playback_s=0.02, media_durations={GREETING: 60.0}, default_outcome=Outcome(kind="ring")
    )
    timers = VirtualClock()
    async with simulated_controller(
        fast_settings(),
        RulesSource.fixed(long_rings, Metrics()),
        switch=switch,
        clock=lambda: clock[0],
        scheduler=timers,
    ) as (fake, controller):
        yield Harness(fake, controller, long_rings, clock, timers)


@asynccontextmanager
async def next_controller(harness: Harness) -> AsyncIterator[tuple[Controller, list[str]]]:
    """The first controller dies without any clean-up (as on SIGKILL, once its last state
    write is made) and a new one connects; yields it, reconciled, and the channels it asked
    Asterisk to answer."""
    await harness.controller.persistor.settled()
    await harness.controller.close()
    settings = simulated_settings(fast_settings(), harness.fake)
    second = Controller(
        settings,
        RulesSource.fixed(harness.snapshot, Metrics()),
        clock=lambda: BUSINESS_HOURS,
        scheduler=VirtualClock(),
    )
    answered: list[str] = []
    answer = second.ari.answer

    async def counted_answer(channel_id: str) -> None:
        answered.append(channel_id)
        await answer(channel_id)

    second.ari.answer = counted_answer  # type: ignore[method-assign]
    async with second:
        await asyncio.wait_for(second.reconciled.wait(), 10)
        yield second, answered


@asynccontextmanager
async def draining_controller(harness: Harness) -> AsyncIterator[Controller]:
    """A controller connecting once the ones before have died, draining: it hands every
    caller it finds to the fallback context."""
    controller = Controller(
        simulated_settings(fast_settings(), harness.fake),
        RulesSource.fixed(harness.snapshot, Metrics()),
        clock=lambda: BUSINESS_HOURS,
        scheduler=VirtualClock(),
    )
    controller.start_drain()
    async with controller:
        yield controller


def started(caller: ChannelRecord, playback_id: str) -> bool:
    """Whether the caller has started hearing the playback."""
    return any(p.playback_id == playback_id and p.started for p in caller.plays)


def saved_state(harness: Harness, call_id: str) -> SavedCall | None:
    return SavedCall.decode(harness.switch.channels[call_id].variables.get(STATE_VARIABLE))


async def on_hold_with_the_destination_ringing(harness: Harness) -> tuple[str, str]:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    leg_id = ids.leg_id(call_id, 1)
    await harness.until(lambda: leg_id in harness.switch.channels)
    await harness.until(harness.state_is(call_id, "transferring.ringing"))
    return call_id, leg_id


def test_saved_state_reads_back_and_rejects_anything_else() -> None:
    saved = SavedCall(CallState.MENU, 3, "311", "fr", True, ("1", ""), 4, None)
    assert SavedCall.decode(saved.encode()) == saved
    assert len(saved.encode()) < 100
    for garbled in (
        "",
        "{",
        "[]",
        '{"s": "menu"}',
        '{"s":"nowhere","v":1,"d":"311","l":"en","g":0,"k":[],"p":0}',
        saved.encode().replace('"p":4', '"p":-1'),
    ):
        assert SavedCall.decode(garbled) is None


async def test_caller_on_hold_is_taken_over_and_the_transfer_goes_on(harness: Harness) -> None:
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    caller, leg = harness.record(call_id), harness.record(leg_id)
    async with next_controller(harness) as (second, answered):
        saved = saved_state(harness, call_id)
        # Saved on hold: the first link's ringing resumes as hold does, so it is not written.
        assert saved is not None and saved.state is CallState.TRANSFER_HOLD
        assert saved.link is None
        # Still on hold with music, the leg still ringing: nothing handed back or hung up.
        assert call_id in second.calls
        assert caller.continued_to is None and caller.moh
        assert not leg.destroyed
        harness.switch.destination_answers(leg_id)  # and presses 1 after the whisper
        await harness.until(lambda: caller.bridged_with == [leg_id])
        assert "whisper" in " ".join(leg.played_media)
        call = second.calls[call_id]
        harness.switch.hangup_caller(call_id)
        await harness.wait(call.ended.wait())
        await harness.until(harness.nothing_left)
        records = [d for d in second.recent_decisions() if d["call_id"] == call_id]
        assert [r["outcome"] for r in records] == ["completed"]
        assert [a["result"] for a in records[0]["attempts"]] == ["answered"]
        assert answered == []  # the caller was answered once, by the first controller
        assert [h for h in caller.history if h == "answered"] == ["answered"]


async def test_restart_while_ringing_the_caller_hears_music_again(harness: Harness) -> None:
    """The music the caller heard stopped while no controller was up (or never started):
    the controller that takes the call over starts it again."""
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    caller = harness.record(call_id)
    await harness.controller.persistor.settled()
    await harness.controller.close()
    harness.switch.channel_moh(call_id, None, False)
    assert not caller.moh
    async with next_controller(harness) as (second, _):
        await harness.until(lambda: caller.moh)
        assert call_id in second.calls and not caller.rang
        assert caller.bridges == [], "on hold in no bridge"
        harness.switch.destination_answers(leg_id)
        await harness.until(lambda: caller.bridged_with == [leg_id] and not caller.moh)
        call = second.calls[call_id]
        harness.switch.hangup_caller(call_id)
        await harness.wait(call.ended.wait())


async def test_a_caller_on_hold_with_no_saved_state_goes_to_the_fallback(
    harness: Harness,
) -> None:
    """The state writes failed mid-transfer: the caller, on hold in no bridge, is known by the
    leg of their transfer still ringing, and goes to the fallback instead of the greeting."""
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    caller = harness.record(call_id)
    await harness.controller.persistor.settled()
    await harness.controller.close()
    del harness.switch.channels[call_id].variables[STATE_VARIABLE]
    greetings = caller.played_media.count(GREETING)
    async with next_controller(harness) as (second, answered):
        await harness.until(lambda: caller.continued_to is not None)
        assert caller.continued_to == FALLBACK
        assert call_id not in second.calls and answered == []
        assert caller.played_media.count(GREETING) == greetings, "not greeted again"
        await harness.until(lambda: harness.record(leg_id).destroyed)


async def test_restart_while_ringing_instead_of_music_brings_the_music(harness: Harness) -> None:
    """The first controller could not start the music (the caller hears ringing); the one
    that takes the call over gets it started, and the music replaces the ringing."""
    harness.switch.channel_moh_error = SwitchError(500, "Internal Server Error")
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    caller = harness.record(call_id)
    assert caller.ringing and not caller.moh
    harness.switch.channel_moh_error = None
    async with next_controller(harness) as (second, _):
        await harness.until(lambda: caller.moh)
        assert not caller.ringing
        harness.switch.destination_answers(leg_id)
        await harness.until(lambda: caller.bridged_with == [leg_id] and not caller.moh)
        call = second.calls[call_id]
        harness.switch.hangup_caller(call_id)
        await harness.wait(call.ended.wait())
        await harness.until(harness.nothing_left)


async def test_leg_gone_while_no_controller_was_up_is_dialled_again(harness: Harness) -> None:
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    await harness.controller.persistor.settled()
    await harness.controller.close()
    harness.switch.hangup_caller(leg_id)  # the destination gave up ringing meanwhile
    harness.switch.default_outcome = Outcome(kind="answer", press="1")
    async with next_controller(harness) as (second, _):
        caller = harness.record(call_id)
        await harness.until(lambda: bool(caller.bridged_with))
        assert caller.continued_to is None
        redialled = [
            r for r in harness.switch.records.values() if r.originator == call_id and r.answered
        ]
        assert [r.channel_id for r in redialled] == [leg_id]
        call = second.calls[call_id]
        harness.switch.hangup_caller(call_id)
        await harness.wait(call.ended.wait())
        [record] = [d for d in second.recent_decisions() if d["call_id"] == call_id]
        assert record["outcome"] == "completed"


async def hearing(harness: Harness, number: str, key: str, media: str) -> tuple[str, ChannelRecord]:
    """A caller from ``number`` who presses ``key`` in the greeting, once they hear ``media``
    (destinations answer and accept); the call id and the caller's channel record."""
    harness.switch.default_outcome = Outcome(kind="answer", press="1")
    call_id = harness.call(number)
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, key)
    caller = harness.record(call_id)
    await harness.until(lambda: media in caller.played_media)
    return call_id, caller


async def test_caller_in_the_greeting_hears_it_again_from_its_start(harness: Harness) -> None:
    """Nothing is saved in the greeting: a restarted controller starts the caller afresh. The
    first controller's greeting is stopped before the new one plays, from its start, and its
    end is not taken for the new greeting's; nobody answers the caller again."""
    harness.switch.default_outcome = Outcome(kind="answer", press="1")
    call_id = harness.call(inside_number(harness.snapshot))
    caller = harness.record(call_id)
    await harness.in_greeting(call_id)
    assert saved_state(harness, call_id) is None
    async with next_controller(harness) as (second, answered):
        earlier = {ids.playback_id(call_id, n) for n in range(1, ids.AFRESH_NUMBERING_AFTER + 1)}
        new_greeting = ids.playback_id(call_id, ids.AFRESH_NUMBERING_AFTER + 1)
        await harness.until(lambda: started(caller, new_greeting))
        first = [p for p in caller.plays if p.playback_id in earlier]
        # stopped before the new greeting was asked for, the queued ones never played
        assert {p.state for p in first} == {"stopped"}
        assert [p for p in first if p.started] == first[:1]
        paths = [r.path for r in harness.fake.requests]
        assert paths.index(f"/ari/playbacks/{first[0].playback_id}") < paths.index(
            f"/ari/channels/{call_id}/play/{new_greeting}"
        )
        again = [p for p in caller.plays if p.playback_id not in earlier]
        assert again[0].media == first[0].media  # host-durham, greeting: from the start
        assert second.calls[call_id].state is CallState.GREETING
        harness.switch.press(call_id, "5")
        await harness.until(lambda: bool(caller.bridged_with))
        # The key skipped the new greeting: the old one's end had not cut it short.
        skipped = second.metrics.registry.get_sample_value("ivr311_greeting_skipped_total")
        assert skipped == 1
        assert answered == [] and caller.history.count("answered") == 1
        assert caller.continued_to is None


async def test_caller_in_a_menu_is_taken_over_in_the_menu(harness: Harness) -> None:
    call_id, caller = await hearing(harness, menu_number(harness.snapshot), "1", MENU_INTRO)
    intros = caller.played_media.count(MENU_INTRO)
    async with next_controller(harness) as (second, answered):
        # The menu plays again from its start, in the new controller.
        await harness.until(lambda: caller.played_media.count(MENU_INTRO) == intros + 1)
        assert second.calls[call_id].state is CallState.MENU
        assert caller.continued_to is None and answered == []
        harness.switch.press(call_id, "1")
        await harness.until(lambda: bool(caller.bridged_with))


async def test_the_old_greeting_is_stopped_by_the_call_started_afresh_not_the_reconcile(
    harness: Harness,
) -> None:
    """Stopping an earlier controller's prompts is the new call's first step: a slow stop
    holds up that call's greeting only, not the reconcile (and every other call with it),
    which is over while the stop is still under way."""
    call_id = harness.call(inside_number(harness.snapshot))
    caller = harness.record(call_id)
    await harness.in_greeting(call_id)
    last = ids.playback_id(call_id, ids.EARLY_PROMPTS)  # stopped first: latest first
    held = harness.fake.hold_next("DELETE", f"/ari/playbacks/{last}")
    async with next_controller(harness) as (second, _):
        # reconciled (`next_controller`) with the stop still held: the greeting waits for it
        assert call_id in second.calls and not held.done.is_set()
        # nor did it outwait the stop (the client's time limit, then its retry)
        assert not any(r.path == f"/ari/playbacks/{last}" for r in harness.fake.requests)
        assert [p for p in caller.plays if p.playback_id == ids.playback_id(call_id, 1)]
        plays = len(caller.plays)
        held.release()
        await harness.until(
            lambda: started(caller, ids.playback_id(call_id, ids.AFRESH_NUMBERING_AFTER + 1))
        )
        assert len(caller.plays) == plays + 1
        assert {p.state for p in caller.plays[:plays]} == {"stopped"}


async def test_a_greeting_started_afresh_is_stopped_before_a_later_hand_back(
    harness: Harness,
) -> None:
    """A caller started afresh by a restarted controller is in its greeting when that one dies
    too; the next, draining, hands them to the fallback context with that greeting stopped
    first (Asterisk would play it out before continuing the caller)."""
    call_id = harness.call(inside_number(harness.snapshot))
    caller = harness.record(call_id)
    await harness.in_greeting(call_id)
    afresh = ids.playback_id(call_id, ids.AFRESH_NUMBERING_AFTER + 1)
    async with next_controller(harness) as (second, _):
        await harness.until(lambda: started(caller, afresh))
        await second.close()
    async with draining_controller(harness):
        await harness.until(lambda: caller.continued_to is not None)
    assert caller.continued_to == FALLBACK
    assert {p.state for p in caller.plays} == {"stopped"}


async def test_caller_in_a_status_check_is_asked_for_the_number_again(harness: Harness) -> None:
    call_id, caller = await hearing(harness, inside_number(harness.snapshot), "*", STATUS_ASK)
    harness.switch.press(call_id, "1")
    saved = saved_state(harness, call_id)
    assert saved is not None and saved.state is CallState.STATUS and saved.digits == ("*",)
    async with next_controller(harness) as (second, answered):
        # The new controller asks for the request number again, then goes on as usual.
        await harness.until(lambda: caller.played_media.count(STATUS_ASK) == 2)
        assert second.calls[call_id].state is CallState.STATUS
        assert caller.continued_to is None and answered == []
        harness.switch.press(call_id, "#")
        await harness.until(lambda: bool(caller.bridged_with))
        assert "sound:ivr311/status-no-number" in caller.played_media


async def test_a_closed_controller_asks_the_switch_nothing_once_closed(harness: Harness) -> None:
    """A play request under way (the greeting's, held at the switch) when the controller
    closes is answered before close returns, and the call stops there: nothing the closed
    controller asks for reaches the switch afterwards, where it could undo what the next
    controller did."""
    call_id = harness.call(inside_number(harness.snapshot))
    play = f"/ari/channels/{call_id}/play/"
    held = harness.fake.hold_next("POST", play)
    await harness.wait(held.arrived.wait())
    call = harness.live(call_id)
    stopping = asyncio.Event()
    close_call = call.close

    async def close_seen() -> None:
        stopping.set()
        await close_call()

    call.close = close_seen  # type: ignore[method-assign]
    closing = asyncio.create_task(harness.controller.close())
    reached: list[RequestRecord] = []  # what the switch has received when close returns
    closing.add_done_callback(lambda _: reached.extend(harness.fake.requests))
    stopped = asyncio.create_task(stopping.wait())
    await harness.wait(asyncio.wait({closing, stopped}, return_when=asyncio.FIRST_COMPLETED))
    stopped.cancel()
    held.release()
    await harness.wait(closing)
    await harness.wait(held.done.wait())
    assert harness.fake.requests == reached
    plays = [r.query_string for r in reached if r.method == "POST" and r.path.startswith(play)]
    assert GREETING in plays[0]  # the held request, carried out before close returned


async def test_a_call_closed_before_its_start_or_take_over_ran_starts_nothing(
    harness: Harness,
) -> None:
    """A start or a take-over that waited on the call's lock while the controller closed the
    call gets the lock after the close: it starts no flow, so nothing reaches the switch."""
    call_id, caller = await hearing(harness, inside_number(harness.snapshot), "*", STATUS_ASK)
    saved = saved_state(harness, call_id)
    assert saved is not None
    call = harness.live(call_id)
    await harness.controller.close()
    reached = list(harness.fake.requests)

    await call.take_over(saved, None, in_stasis=True)
    await call.start(answered=False)

    assert harness.fake.requests == reached
    assert caller.played_media.count(STATUS_ASK) == 1


async def test_garbled_saved_state_hands_the_caller_to_the_fallback(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    await harness.controller.persistor.settled()
    harness.switch.channels[call_id].variables[STATE_VARIABLE] = '{"s":"menu","v":'
    async with next_controller(harness) as (second, _):
        caller = harness.record(call_id)
        await harness.until(lambda: caller.continued_to is not None)
        assert caller.continued_to == FALLBACK
        assert call_id not in second.calls
        assert {p.state for p in caller.plays} == {"stopped"}  # not played out first
        # the prompts queued behind the greeting were stopped before it: none started
        assert [p for p in caller.plays if p.started] == caller.plays[:1]


async def test_socket_cut_on_hold_the_call_completes_answered_once(harness: Harness) -> None:
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    harness.controller.reconciled.clear()
    await harness.fake.restart(keep_channels=True)  # the event socket drops, Asterisk stays
    await harness.wait(harness.controller.reconciled.wait())
    harness.switch.destination_answers(leg_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.bridged_with == [leg_id])
    harness.switch.hangup_caller(leg_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"
    assert [h for h in caller.history if h == "answered"] == ["answered"]
    await harness.until(harness.nothing_left)


async def test_a_caller_on_hold_handed_back_after_a_restart_takes_no_music_along(
    harness: Harness,
) -> None:
    """The music on the caller's channel would follow them into the dialplan: the controller
    that hands them back stops it first."""
    call_id, _ = await on_hold_with_the_destination_ringing(harness)
    caller = harness.record(call_id)
    assert caller.moh
    await harness.controller.persistor.settled()
    await harness.controller.close()
    async with draining_controller(harness):
        await harness.until(lambda: caller.continued_to is not None)
    assert caller.continued_to == FALLBACK
    assert not caller.moh
    history = caller.history
    assert history.index("moh off") < max(i for i, h in enumerate(history) if "continued" in h)


async def test_an_adopted_conversation_is_rid_of_music_left_on_the_caller(
    harness: Harness,
) -> None:
    """The earlier controller died between bridging the caller and stopping their music: the
    controller that adopts the conversation stops it, so the caller hears the centre."""
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    harness.switch.destination_answers(leg_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.bridged_with == [leg_id] and not caller.moh)
    harness.switch.channel_moh(call_id, "default", True)  # as if it had never been stopped
    async with next_controller(harness):
        await harness.until(lambda: not caller.moh)
        assert caller.bridged_with == [leg_id]
        assert not harness.record(leg_id).moh


@contextmanager
def events_lost(harness: Harness) -> Iterator[None]:
    """The application's events are lost in flight (the socket is failing) while the block
    runs; the application still counts as connected."""
    app = harness.switch.apps["ivr311"]
    sink, app.sink = app.sink, (lambda payload: None)
    try:
        yield
    finally:
        app.sink = sink


async def reconnect(harness: Harness) -> None:
    harness.controller.reconciled.clear()
    await harness.fake.restart(keep_channels=True)
    await harness.wait(harness.controller.reconciled.wait())


async def test_a_destination_answering_unseen_is_connected_after_the_reconnect(
    harness: Harness,
) -> None:
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    with events_lost(harness):
        harness.switch.destination_answers(leg_id)  # its StasisStart is lost
    await reconnect(harness)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.bridged_with == [leg_id])
    assert harness.record(leg_id).history.count("answered") == 1
    harness.switch.hangup_caller(leg_id)
    record = await harness.ended(call_id)
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        ("durham-agents", "answered")
    ]


async def test_a_destination_gone_unseen_is_dialled_once_more(harness: Harness) -> None:
    """As when agents answer while the socket is down: Asterisk hangs their leg up (the
    application is not active). The link is dialled again, and this time they get the caller."""
    call_id, leg_id = await on_hold_with_the_destination_ringing(harness)
    with events_lost(harness):
        harness.switch.hangup_caller(leg_id)
    await reconnect(harness)
    await harness.until(lambda: leg_id in harness.switch.channels)  # dialled again
    harness.switch.destination_answers(leg_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.bridged_with == [leg_id])
    harness.switch.hangup_caller(leg_id)
    record = await harness.ended(call_id)
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        ("durham-agents", "lost"),
        ("durham-agents", "answered"),
    ]
    assert record["outcome"] == "completed"
    await harness.until(harness.nothing_left)


async def test_restart_while_a_later_link_rings_goes_on_at_that_link(harness: Harness) -> None:
    number = menu_number(harness.snapshot)
    digit, _ = fallback_choice(harness.snapshot, number)
    call_id, _ = await hearing(harness, number, "1", MENU_INTRO)
    harness.switch.press(call_id, digit)
    first_leg, second_leg = ids.leg_id(call_id, 1), ids.leg_id(call_id, 2)
    await harness.until(lambda: first_leg in harness.switch.channels)
    harness.switch.hangup_caller(first_leg, cause=17)  # the first destination is busy
    await harness.until(lambda: second_leg in harness.switch.channels)
    await harness.controller.persistor.settled()
    saved = saved_state(harness, call_id)
    assert saved is not None and saved.state is CallState.TRANSFER_RINGING
    assert saved.link == 1
    async with next_controller(harness) as (second, _):
        harness.switch.destination_answers(second_leg)
        caller = harness.record(call_id)
        await harness.until(lambda: caller.bridged_with == [second_leg])
        dialled = [r.channel_id for r in harness.switch.records.values() if r.originator == call_id]
        assert dialled == [first_leg, second_leg], "the busy first link is not dialled again"
        call = second.calls[call_id]
        harness.switch.hangup_caller(call_id)
        await harness.wait(call.ended.wait())
