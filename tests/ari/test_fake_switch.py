"""The fake switch behaves as Asterisk does: event order, outcomes, errors, control API."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from ari_testing import PASSWORD, USER, EventCollector

from ivr.ari import AriClient, AriError
from ivr.ari.client import basic_auth_header
from switchsim import FakeAri, Outcome, SwitchError


def types_for(fake: FakeAri, channel_id: str, since: int = 0) -> list[str]:
    """Event types emitted about a channel, in order, leaving out ones Asterisk adds that the
    tests do not care about."""
    return [
        e.payload["type"]
        for e in fake.switch.events[since:]
        if _about(e.payload, channel_id) and e.payload["type"] != "PlaybackContinuing"
    ]


def _about(payload: dict[str, Any], channel_id: str) -> bool:
    if "playback" in payload:
        return bool(payload["playback"]["target_uri"] == f"channel:{channel_id}")
    if payload["type"] == "Dial":
        return bool(payload["peer"]["id"] == channel_id)
    return bool(payload.get("channel", {}).get("id") == channel_id)


async def test_hangup_during_playback_in_a_bridge_follows_asterisks_order(
    fake: FakeAri, client: AriClient
) -> None:
    fake.switch.media_durations["sound:ivr311/long"] = 60.0
    cid = fake.switch.place_call()
    await client.answer(cid)
    await client.create_bridge("bridge")
    await client.add_channels("bridge", [cid])
    await client.play(cid, "pb", ["sound:ivr311/long"])
    await fake.switch.wait_event("PlaybackStarted", channel_id=cid)
    mark = fake.switch.mark()

    fake.switch.hangup_caller(cid)

    assert types_for(fake, cid, mark) == [
        "ChannelHangupRequest",
        "PlaybackFinished",
        "ChannelLeftBridge",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    record = fake.switch.record(cid)
    assert record.hung_up_by == "caller" and record.cause == 16
    assert record.plays[0].state == "hangup"


async def test_channel_music_on_hold_behaves_as_asterisks_generator(
    fake: FakeAri, client: AriClient
) -> None:
    """Music on a channel replaces its ringing tone, stays on when the channel joins a bridge
    (Asterisk's bridge join leaves it, and it drowns the bridge out), and a play outside a
    bridge suspends it without starting it again."""
    switch = fake.switch
    caller = switch.place_call()
    await client.answer(caller)
    await client.ring(caller)
    await client.start_moh(channel_id=caller, moh_class="default")
    record = switch.record(caller)
    assert record.moh and not record.ringing

    other = switch.place_call()
    await client.answer(other)
    await client.create_bridge("talk")
    await client.add_channels("talk", [caller, other])
    assert record.bridged_with == [other] and record.moh
    await client.play(caller, "in-bridge", ["sound:ivr311/beep"])
    await switch.wait_event("PlaybackFinished", channel_id=caller)
    assert record.moh, "a play in a bridge leaves the music as it was"
    await client.stop_moh(channel_id=caller)
    assert not record.moh

    await client.start_moh(channel_id=other)
    await client.destroy_bridge("talk")
    await client.play(other, "pb", ["sound:ivr311/beep"])
    await switch.wait_event("PlaybackStarted", channel_id=other)
    assert not switch.record(other).moh
    await switch.wait_event("PlaybackFinished", channel_id=other)
    assert not switch.record(other).moh, "the music does not come back after the play"


async def test_channel_music_on_hold_errors(fake: FakeAri, client: AriClient) -> None:
    switch = fake.switch
    cid = switch.place_call()
    switch.channel_moh_error = SwitchError(500, "Internal Server Error")
    with pytest.raises(AriError) as failed:
        await client.start_moh(channel_id=cid)
    assert failed.value.status == 500 and not switch.record(cid).moh
    switch.channel_moh_error = None
    await client.continue_in_dialplan(cid, "default", "s")
    with pytest.raises(AriError) as left:
        await client.start_moh(channel_id=cid)
    assert left.value.is_conflict
    switch.hangup_caller(cid)
    with pytest.raises(AriError) as gone:
        await client.start_moh(channel_id=cid)
    assert gone.value.is_gone


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered"])
async def test_a_carriers_call_enters_stasis_as_its_dialplan_left_it(
    fake: FakeAri, client: AriClient, answered: bool
) -> None:
    """Answered before Stasis (the generated dialplan, the switch's default): ``Up`` in
    StasisStart, and an answer request changes nothing and succeeds, as ``ast_raw_answer``
    skips an ``Up`` channel. Unanswered: ``Ring``, and the answer brings it ``Up``."""
    cid = fake.switch.place_call(answered=answered)
    start = await fake.switch.wait_event("StasisStart", channel_id=cid)
    assert start["channel"]["state"] == ("Up" if answered else "Ring")
    assert fake.switch.record(cid).answered == answered
    mark = fake.switch.mark()
    await client.answer(cid)
    assert fake.switch.channels[cid].state == "Up"
    assert types_for(fake, cid, mark) == ([] if answered else ["ChannelStateChange"])
    assert fake.switch.record(cid).history.count("answered") == 1


async def test_answered_originate_order(fake: FakeAri, client: AriClient) -> None:
    caller = fake.switch.place_call()
    fake.switch.script_endpoint("+12895550101", Outcome("answer", after_s=0.01))
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", caller])
    await fake.switch.wait_event("StasisStart", channel_id="leg")

    assert types_for(fake, "leg") == [
        "ChannelCreated",
        "Dial",
        "ChannelStateChange",
        "ChannelStateChange",
        "Dial",
        "StasisStart",
    ]
    states = [e["channel"]["state"] for e in fake.switch.find_events("ChannelStateChange")]
    assert states == ["Ringing", "Up"]
    dials = fake.switch.find_events("Dial", channel_id="leg")
    assert [d["dialstatus"] for d in dials] == ["", "ANSWER"]


async def test_failed_originate_never_enters_the_app(fake: FakeAri, client: AriClient) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("busy", after_s=0.01))
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", "x"])
    destroyed = await fake.switch.wait_event("ChannelDestroyed", channel_id="leg")

    assert destroyed["cause"] == 17 and destroyed["cause_txt"] == "User busy"
    assert types_for(fake, "leg") == ["ChannelCreated", "Dial", "Dial", "ChannelDestroyed"]
    assert not fake.switch.record("leg").entered_app


async def test_hanging_up_a_ringing_leg_cancels_the_dial(fake: FakeAri, client: AriClient) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("ring"))
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", "x"])
    await fake.switch.wait_for(lambda: fake.switch.channels["leg"].state == "Ringing")
    mark = fake.switch.mark()

    assert await client.hangup("leg") is True
    assert types_for(fake, "leg", mark) == ["Dial", "ChannelHangupRequest", "ChannelDestroyed"]
    assert fake.switch.find_events("Dial", channel_id="leg", since=mark)[0]["dialstatus"] == (
        "CANCEL"
    )


async def test_scripts_are_used_in_order_and_the_last_repeats(
    fake: FakeAri, client: AriClient
) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("busy"), Outcome("answer"))
    for n in range(3):
        await client.originate(f"leg-{n}", "PJSIP/+12895550101@cc", ["transfer", "x"])
        await fake.switch.wait_for(
            lambda n=n: (
                fake.switch.record(f"leg-{n}").destroyed
                or fake.switch.record(f"leg-{n}").entered_app
            )
        )
    assert [fake.switch.record(f"leg-{n}").answered for n in range(3)] == [False, True, True]


async def test_callee_presses_the_accept_key_after_the_whisper(
    fake: FakeAri, client: AriClient
) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("answer", press="1"))
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", "x"])
    await fake.switch.wait_event("StasisStart", channel_id="leg")
    assert not fake.switch.find_events("ChannelDtmfReceived", channel_id="leg")

    await client.play("leg", "whisper", ["sound:ivr311/whisper-intro", "sound:ivr311/goodbye"])
    dtmf = await fake.switch.wait_event("ChannelDtmfReceived", channel_id="leg")
    assert dtmf["digit"] == "1"
    assert fake.switch.find_events("PlaybackFinished", channel_id="leg")


async def test_callee_hangs_up_later(fake: FakeAri, client: AriClient) -> None:
    fake.switch.script_endpoint("+12895550101", Outcome("answer", hangup_after_s=0.01))
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", "x"])
    await fake.switch.wait_event("ChannelDestroyed", channel_id="leg")
    assert fake.switch.record("leg").hung_up_by == "callee"


async def test_continue_hands_the_call_to_the_dialplan(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    cid = fake.switch.place_call()
    mark = fake.switch.mark()
    await client.continue_in_dialplan(cid, "ivr311-fallback", "311")
    fake.switch.press(cid, "1")  # no longer the application's business
    fake.switch.hangup_caller(cid)

    assert types_for(fake, cid, mark) == ["StasisEnd"]
    record = fake.switch.record(cid)
    assert record.continued_to == ("ivr311-fallback", "311", 1)
    assert record.destroyed


async def test_a_call_while_the_app_is_down_goes_to_the_fallback(fake: FakeAri) -> None:
    cid = fake.switch.place_call("311", "9055550123")
    record = fake.switch.record(cid)
    assert record.stasis_failed and not record.entered_app
    assert fake.switch.find_events("StasisStart") == []


async def test_plays_queue_and_multi_media_continues(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    await client.play(cid, "a", ["sound:ivr311/greeting", "digits:2"])
    await client.play(cid, "b", ["sound:ivr311/goodbye"])
    await fake.switch.wait_event("PlaybackFinished", channel_id=cid, since=0)
    await fake.switch.wait_for(lambda: len(fake.switch.find_events("PlaybackFinished")) == 2)

    sequence = [
        (e.payload["type"], e.payload["playback"]["id"])
        for e in fake.switch.events
        if e.payload["type"].startswith("Playback")
    ]
    assert sequence == [
        ("PlaybackStarted", "a"),
        ("PlaybackContinuing", "a"),
        ("PlaybackFinished", "a"),
        ("PlaybackStarted", "b"),
        ("PlaybackFinished", "b"),
    ]
    assert fake.switch.record(cid).played_media == [
        "sound:ivr311/greeting",
        "digits:2",
        "sound:ivr311/goodbye",
    ]


SOUND_FILES = frozenset({"en/ivr311/greeting", "fr_CA/ivr311/greeting", "en/ivr311/only-english"})


@pytest.mark.parametrize(
    ("media", "lang", "state"),
    [
        ("sound:ivr311/nope", "en", "failed"),
        ("sound:ivr311/greeting", "fr_CA", "done"),
        ("sound:ivr311/only-english", "fr_CA", "done"),
        ("sound:fr_CA/ivr311/greeting", "en", "done"),
        ("sound:fr_CA/ivr311/only-english", "en", "failed"),
        ("sound:fr_CA/ivr311/only-english", "fr_CA", "failed"),
    ],
)
@pytest.mark.parametrize("switch", [{"sound_exists": SOUND_FILES.__contains__}], indirect=True)
async def test_missing_sound_fails_like_asterisk(
    fake: FakeAri, client: AriClient, media: str, lang: str, state: str
) -> None:
    """Asterisk looks for ``<lang>/<name>``, ``fr`` for ``fr_CA``, ``<name>``, then English."""
    cid = fake.switch.place_call()
    await client.play(cid, "pb", [media], lang)
    finished = await fake.switch.wait_event("PlaybackFinished", channel_id=cid)
    assert finished["playback"]["state"] == state


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c: c.play("nope", "pb", ["sound:x"]), 404),
        (lambda c: c.continue_in_dialplan("nope", "default", "s"), 404),
        (lambda c: c.add_channels("no-bridge", ["x"]), 404),
        (lambda c: c.set_variable("nope", "X", "1"), 404),
        (lambda c: c.get_channel("nope"), 404),
        (lambda c: c.get_bridge("nope"), 404),
    ],
)
async def test_error_codes(client: AriClient, call: Any, status: int) -> None:
    with pytest.raises(AriError) as err:
        await call(client)
    assert err.value.status == status


async def test_adding_an_unknown_channel_to_a_bridge_is_400(client: AriClient) -> None:
    await client.create_bridge("b")
    with pytest.raises(AriError) as err:
        await client.add_channels("b", ["nope"])
    assert err.value.status == 400


async def test_raw_http_errors(fake: FakeAri, client: AriClient) -> None:
    cid = fake.switch.place_call()
    auth = {"Authorization": basic_auth_header(USER, PASSWORD)}
    async with aiohttp.ClientSession() as http:
        async with http.delete(
            f"{fake.url}/ari/channels/{cid}", params={"reason": "bogus"}, headers=auth
        ) as resp:
            assert resp.status == 400
        async with http.post(
            f"{fake.url}/ari/bridges/b", params={"type": "odd"}, headers=auth
        ) as r:
            assert r.status == 400
        async with http.get(f"{fake.url}/ari/asterisk/ping") as resp:
            assert resp.status == 401
            assert "Basic" in resp.headers["WWW-Authenticate"]
        async with http.get(f"{fake.url}/ari/playbacks/none", headers=auth) as resp:
            assert resp.status == 404
            assert (await resp.json())["message"] == "Playback not found"


async def test_wait_for_times_out(fake: FakeAri) -> None:
    with pytest.raises(TimeoutError):
        await fake.switch.wait_for(lambda: False, timeout_s=0.05)


async def test_http_control_api(fake: FakeAri, client: AriClient, events: EventCollector) -> None:
    base = f"{fake.url}/_fake"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/calls",
            json={"dialled": "3115550000", "calling": "9055550123", "location": [43.9, -78.8]},
        ) as resp:
            assert resp.status == 201
            cid = (await resp.json())["channel_id"]
        async with http.post(f"{base}/calls", json={"answered": False}) as resp:
            ringing = (await resp.json())["channel_id"]
        async with http.post(f"{base}/channels/{cid}/dtmf", json={"digits": "12"}) as resp:
            assert resp.status == 204
        async with http.post(
            f"{base}/endpoints",
            json={"endpoint": "+12895550101", "outcomes": [{"kind": "busy", "after_s": 0.01}]},
        ) as resp:
            assert resp.status == 204
        async with http.post(f"{base}/endpoints", json={"endpoint": "x", "kind": "odd"}) as resp:
            assert resp.status == 400
        async with http.post(f"{base}/channels/{cid}/hangup", json={}) as resp:
            assert resp.status == 204
        async with http.post(f"{base}/channels/nope/dtmf", json={"digits": "1"}) as resp:
            assert resp.status == 404
        async with http.get(f"{base}/channels/{cid}") as resp:
            record = await resp.json()
        async with http.get(f"{base}/channels") as resp:
            assert len(await resp.json()) == 2
        async with http.get(f"{base}/events", params={"since": "0"}) as resp:
            assert (await resp.json())[0]["type"] == "StasisStart"
        async with http.get(f"{base}/requests") as resp:
            assert any(r["path"] == "/ari/events" for r in await resp.json())
        async with http.post(f"{base}/restart", json={"keep_channels": True}) as resp:
            assert resp.status == 204

    assert record["dtmf"] == "12" and record["answered"]
    assert fake.switch.channels[ringing].state == "Ring"
    assert record["hung_up_by"] == "caller"
    assert record["dialled"] == "3115550000"
    await events.stream.wait_connected(5)
    assert events.stream.connects == 2
    await client.originate("leg", "PJSIP/+12895550101@cc", ["transfer", cid])
    destroyed = await fake.switch.wait_event("ChannelDestroyed", channel_id="leg")
    assert destroyed["cause"] == 17
