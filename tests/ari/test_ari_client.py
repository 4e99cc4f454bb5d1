"""The REST client against the fake ARI over real loopback HTTP."""

from __future__ import annotations

import asyncio

import pytest
from ari_testing import APP, PASSWORD, USER, EventCollector

from ivr.ari import AriClient, AriError, AriUnavailableError
from ivr.ari.events import ChannelDestroyed, ChannelDtmfReceived, PlaybackFinished, StasisStart
from switchsim import LOCATION_VARIABLE, FakeAri, Outcome


async def test_answer_ring_and_channel_snapshot(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call("311", "9055550123", answered=False)
    await client.ring(cid)
    before = await client.get_channel(cid)
    await client.answer(cid)
    after = await client.get_channel(cid)

    assert before.state == "Ring"
    assert after.state == "Up"
    assert after.caller.number == "9055550123"
    assert after.dialplan.exten == "311"
    record = fake.switch.record(cid)
    assert record.rang and record.answered


async def test_ringing_an_answered_channel_lasts_until_stopped(
    fake: FakeAri, client: AriClient
) -> None:
    """Asterisk refuses ring (412) only to an unanswered outbound channel; on an answered one
    it generates the ringing tone, in a bridge too, until told to stop."""
    cid = fake.switch.place_call()
    await client.answer(cid)
    await client.create_bridge("bridge-1")
    await client.add_channels("bridge-1", [cid])
    await client.ring(cid)
    record = fake.switch.record(cid)
    assert record.ringing
    assert await client.stop_ringing(cid) is True
    assert not record.ringing
    fake.switch.hangup_caller(cid)
    assert await client.stop_ringing(cid) is False  # 404: gone counts as done


async def test_ringing_a_leg_that_has_not_answered_is_refused(
    fake: FakeAri, client: AriClient
) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("ring"))
    await client.originate("leg-1", "PJSIP/+12895550101@cc", ["transfer", "x"])
    with pytest.raises(AriError) as err:
        await client.ring("leg-1")
    assert err.value.is_conflict, "an originated leg enters the application when it answers"
    assert await client.hangup("leg-1")


async def test_unknown_channel_is_404_and_kept_in_the_error(client: AriClient) -> None:
    with pytest.raises(AriError) as err:
        await client.answer("no-such-channel")
    assert err.value.is_gone
    assert err.value.status == 404
    assert "/channels/no-such-channel/answer" in str(err.value)


async def test_channel_outside_the_application_is_409(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    await client.continue_in_dialplan(cid, "ivr311-fallback", "311", 1)
    with pytest.raises(AriError) as err:
        await client.answer(cid)
    assert err.value.is_conflict


async def test_play_reports_the_playback_and_plays_in_order(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    cid = fake.switch.place_call()
    await client.answer(cid)
    await client.play(
        cid, f"{cid}-greeting", ["sound:ivr311/greeting", "sound:ivr311/language-offer"], "fr_CA"
    )

    evs = await events.wait_for(lambda evs: any(e.type == "PlaybackFinished" for e in evs))
    finished = next(e for e in evs if isinstance(e, PlaybackFinished))
    assert finished.playback.id == f"{cid}-greeting"
    assert finished.playback.channel_id == cid
    record = fake.switch.record(cid)
    assert record.played_media == ["sound:ivr311/greeting", "sound:ivr311/language-offer"]
    assert record.plays[0].lang == "fr_CA"
    assert record.plays[0].state == "done"


async def test_play_needs_media(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    with pytest.raises(ValueError):
        await client.play(cid, "pb", [])


async def test_stop_playback_and_stopping_again_counts_as_done(
    fake: FakeAri, client: AriClient
) -> None:
    fake.switch.media_durations["sound:ivr311/long"] = 60.0
    cid = fake.switch.place_call()
    await client.play(cid, "pb-long", ["sound:ivr311/long"])
    await fake.switch.wait_event("PlaybackStarted", channel_id=cid)

    assert await client.stop_playback("pb-long") is True
    assert await client.stop_playback("pb-long") is False
    finished = await fake.switch.wait_event("PlaybackFinished", channel_id=cid)
    assert finished["playback"]["state"] == "done"
    assert fake.switch.record(cid).plays[0].state == "stopped"


async def test_hangup_and_hanging_up_again_counts_as_done(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    assert await client.hangup(cid, "normal") is True
    assert await client.hangup(cid) is False
    record = fake.switch.record(cid)
    assert record.destroyed and record.hung_up_by == "app" and record.cause == 16


async def test_hangup_reason_becomes_the_cause(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    await client.hangup(cid, "busy")
    assert fake.switch.record(cid).cause == 17


async def test_continue_in_dialplan_leaves_the_app(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call("311", "9055550123")
    await client.continue_in_dialplan(cid, "ivr311-fallback", "311", 2)

    assert fake.switch.record(cid).continued_to == ("ivr311-fallback", "311", 2)
    assert cid not in (await client.application_state()).channel_ids


async def test_variables_round_trip_and_unset_is_none(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call(location=(43.9, -78.85))
    await client.set_variable(cid, "IVR311_STATE", "menu:1")

    assert await client.get_variable(cid, "IVR311_STATE") == "menu:1"
    assert await client.get_variable(cid, LOCATION_VARIABLE) == "43.9,-78.85"
    assert await client.get_variable(cid, "NOT_SET") is None
    with pytest.raises(AriError) as err:
        await client.get_variable("gone", "IVR311_STATE")
    assert err.value.is_gone


async def test_originate_answers_into_the_app_with_its_args(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    caller = fake.switch.place_call()
    fake.switch.script_endpoint("+12895550101", Outcome("answer", after_s=0.01))
    leg_id = f"{caller}-xfer-1"
    dialled = await client.originate(
        leg_id,
        "PJSIP/+12895550101@contact-centres",
        app_args=["transfer", caller],
        caller_id='"311 Durham" <+19055550000>',
        timeout_s=20,
        originator=caller,
    )

    assert dialled
    started = await events.wait_for(
        lambda evs: any(isinstance(e, StasisStart) and e.channel.id == leg_id for e in evs)
    )
    start = next(e for e in started if isinstance(e, StasisStart) and e.channel.id == leg_id)
    assert start.args == ("transfer", caller)
    assert start.channel.caller.number == "+19055550000"
    record = fake.switch.record(leg_id)
    assert record.answered and record.originator == caller


async def test_originate_retry_with_the_same_id_dials_once(
    fake: FakeAri, client: AriClient
) -> None:
    caller = fake.switch.place_call()
    fake.switch.script_endpoint("+12895550101", Outcome("ring"))
    first = await client.originate("leg-1", "PJSIP/+12895550101@cc", ["transfer", caller])
    second = await client.originate("leg-1", "PJSIP/+12895550101@cc", ["transfer", caller])

    assert first is True
    assert second is False  # 409: the first attempt went through
    assert len(fake.switch.outbound_records("+12895550101")) == 1
    conflicts = [r for r in fake.requests if r.path == "/ari/channels/leg-1" and r.status == 409]
    assert len(conflicts) == 1


@pytest.mark.parametrize(("kind", "cause"), [("busy", 17), ("no_answer", 19), ("rejected", 21)])
async def test_failed_originate_is_only_a_channel_destroyed_with_the_cause(
    fake: FakeAri, client: AriClient, events: EventCollector, kind: str, cause: int
) -> None:
    fake.switch.script_endpoint("PJSIP/+12895550199@cc", Outcome(kind, after_s=0.01))  # type: ignore[arg-type]
    await client.originate("leg-f", "PJSIP/+12895550199@cc", ["transfer", "x"])

    evs = await events.wait_for(lambda evs: any(isinstance(e, ChannelDestroyed) for e in evs))
    destroyed = next(e for e in evs if isinstance(e, ChannelDestroyed))
    assert destroyed.cause == cause
    assert not [e for e in evs if isinstance(e, StasisStart)]


async def test_originate_that_rings_out_ends_at_its_timeout(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    fake.switch.script_endpoint("+12895550123", Outcome("ring"))
    await client.originate("leg-t", "PJSIP/+12895550123@cc", ["transfer", "x"], timeout_s=1)
    evs = await events.wait_for(lambda evs: any(isinstance(e, ChannelDestroyed) for e in evs))
    assert next(e for e in evs if isinstance(e, ChannelDestroyed)).cause == 19


async def test_originate_bad_endpoint_is_a_bad_request(client: AriClient) -> None:
    with pytest.raises(AriError) as err:
        await client.originate("leg-bad", "no-slash-here")
    assert err.value.is_bad_request


async def test_bridges_add_remove_destroy(fake: FakeAri, client: AriClient) -> None:
    caller = fake.switch.place_call()
    fake.switch.script_endpoint("+12895550101", Outcome("answer"))
    await client.answer(caller)
    assert await client.create_bridge("first-1") is True
    assert (await client.get_bridge("first-1")).bridge_type == "mixing"
    await client.add_channels("first-1", [caller])

    await client.originate("leg-1", "PJSIP/+12895550101@cc", ["transfer", caller])
    await fake.switch.wait_for(lambda: fake.switch.record("leg-1").entered_app)
    assert await client.create_bridge("mix-1") is True
    assert await client.create_bridge("mix-1") is False  # fixed id: already there
    await client.add_channels("mix-1", [caller, "leg-1"])  # moves the caller out of the first

    assert (await client.get_bridge("mix-1")).channels == (caller, "leg-1")
    assert (await client.get_bridge("first-1")).channels == ()
    assert fake.switch.record(caller).bridged_with == ["leg-1"]
    assert set((await client.application_state()).bridge_ids) == {"first-1", "mix-1"}

    assert await client.remove_channel("mix-1", "leg-1") is True
    assert await client.remove_channel("mix-1", "leg-1") is False  # 422 not in this bridge
    assert await client.destroy_bridge("mix-1") is True
    assert await client.destroy_bridge("mix-1") is False
    assert await client.remove_channel("mix-1", caller) is False  # bridge gone


async def test_adding_a_channel_outside_the_app_is_422(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    await client.continue_in_dialplan(cid, "default", "s")
    await client.create_bridge("b")
    with pytest.raises(AriError) as err:
        await client.add_channels("b", [cid])
    assert err.value.status == 422 and err.value.is_bad_request


async def test_channel_moh(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    await client.start_moh(channel_id=cid, moh_class="default")
    assert fake.switch.record(cid).moh
    assert await client.stop_moh(channel_id=cid) is True
    assert not fake.switch.record(cid).moh


async def test_application_state_and_ping(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    a = fake.switch.place_call()
    b = fake.switch.place_call()
    state = await client.application_state()
    channel_ids, bridge_ids = state
    assert set(channel_ids) == {a, b}
    assert bridge_ids == ()
    assert await client.ping() == fake.switch.asterisk_id


async def test_unknown_application_is_404(fake: FakeAri) -> None:
    async with AriClient(fake.url, USER, PASSWORD, "never-connected") as other:
        with pytest.raises(AriError) as err:
            await other.application_state()
    assert err.value.is_gone


async def test_wrong_password_is_401(fake: FakeAri) -> None:
    async with AriClient(fake.url, USER, "wrong", APP) as bad:
        with pytest.raises(AriError) as err:
            await bad.ping()
    assert err.value.status == 401 and err.value.is_unauthorized


async def test_credentials_travel_only_in_the_authorization_header(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    cid = fake.switch.place_call()
    await client.answer(cid)
    await client.play(cid, "pb", ["sound:ivr311/greeting"])
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", cid])
    await client.hangup(cid)

    assert fake.requests
    for request in fake.requests:
        assert request.authorization_header
        assert PASSWORD not in request.query_string
        assert "api_key" not in request.query_string
    assert any(r.path == "/ari/events" for r in fake.requests)


async def test_base_url_with_credentials_is_refused() -> None:
    with pytest.raises(ValueError):
        AriClient(f"http://{USER}:{PASSWORD}@127.0.0.1:8088", USER, PASSWORD, APP)


async def test_base_url_may_name_the_ari_prefix(fake: FakeAri) -> None:
    async with AriClient(fake.url + "/ari/", USER, PASSWORD, APP) as ari:
        assert await ari.ping() == fake.switch.asterisk_id


async def test_unreachable_asterisk_raises_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with AriClient(f"http://127.0.0.1:{port}", USER, PASSWORD, APP, retries=1) as ari:
        with pytest.raises(AriUnavailableError) as err:
            await ari.ping()
    assert err.value.status is None and err.value.is_unavailable


async def test_a_request_that_gets_no_answer_times_out() -> None:
    accepted = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        accepted.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with AriClient(
            f"http://127.0.0.1:{port}", USER, PASSWORD, APP, timeout_s=0.2, retries=0
        ) as ari:
            with pytest.raises(AriUnavailableError):
                await ari.answer("c1")
        assert accepted.is_set()
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_dtmf_reaches_the_app(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    cid = fake.switch.place_call()
    fake.switch.press(cid, "20")
    evs = await events.wait_for(
        lambda evs: len([e for e in evs if isinstance(e, ChannelDtmfReceived)]) == 2
    )
    assert [e.digit for e in evs if isinstance(e, ChannelDtmfReceived)] == ["2", "0"]


async def test_a_lost_answer_to_originate_is_retried_without_dialling_twice(
    fake: FakeAri, client: AriClient
) -> None:
    caller = fake.switch.place_call()
    fake.switch.script_endpoint("+12895550101", Outcome("ring"))
    fake.lose_next_answer("POST", "/ari/channels/leg-1")

    dialled = await client.originate("leg-1", "PJSIP/+12895550101@cc", ["transfer", caller])

    assert dialled is False  # the retry found the leg the lost attempt created
    assert len(fake.switch.outbound_records("+12895550101")) == 1
    statuses = [r.status for r in fake.requests if r.path == "/ari/channels/leg-1"]
    assert statuses == [0, 409]


async def test_a_lost_answer_without_retries_is_unavailable(
    fake: FakeAri, events: EventCollector
) -> None:
    cid = fake.switch.place_call(answered=False)
    fake.lose_next_answer("POST", f"/ari/channels/{cid}/answer")
    async with AriClient(fake.url, USER, PASSWORD, APP, retries=0) as ari:
        with pytest.raises(AriUnavailableError):
            await ari.answer(cid)
    assert fake.switch.record(cid).answered  # Asterisk did it; only the answer was lost


async def test_an_event_filter_lets_only_the_allowed_event_types_through(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    await client.filter_events({"StasisStart", "ChannelDestroyed"})
    cid = fake.switch.place_call("311", "9055550123", answered=False)
    await client.answer(cid)
    await client.hangup(cid)
    await events.wait_for(lambda evs: any(isinstance(e, ChannelDestroyed) for e in evs))

    assert {type(e).__name__ for e in events.events} == {"StasisStart", "ChannelDestroyed"}
    assert any(
        e.payload["type"] == "ChannelStateChange" and not e.delivered for e in fake.switch.events
    )
