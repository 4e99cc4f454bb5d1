"""Ids and values with characters that need percent-encoding (spaces, ``+``, quotes, commas,
``%``, ``&``, ``=``, non-ASCII) reach Asterisk (here the fake) as the controller meant them."""

from __future__ import annotations

from ari_testing import EventCollector

from ivr.ari import AriClient
from ivr.ari.events import PlaybackFinished, StasisStart
from switchsim import FakeAri, Outcome

ODD_VALUE = 'a b+c,d&e=f;"g"%20 é'


async def test_odd_channel_and_playback_ids_and_values_arrive_intact(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    caller = fake.switch.place_call(calling="+19055550123", channel_id="caller 1+2", answered=False)
    await client.answer(caller)
    await client.set_variable(caller, "IVR311 STATE", ODD_VALUE)
    await client.play(caller, "greeting a+b", ["sound:ivr311/greeting", "digits:12"], "fr_CA")

    evs = await events.wait_for(lambda evs: any(isinstance(e, PlaybackFinished) for e in evs))
    finished = next(e for e in evs if isinstance(e, PlaybackFinished))
    assert finished.playback.id == "greeting a+b"
    assert finished.playback.channel_id == "caller 1+2"
    assert await client.get_variable(caller, "IVR311 STATE") == ODD_VALUE
    record = fake.switch.record("caller 1+2")
    assert record.answered
    assert record.played_media == ["sound:ivr311/greeting", "digits:12"]  # a comma-joined list
    assert record.plays[0].lang == "fr_CA"


async def test_an_originate_with_an_odd_leg_id_and_caller_id_dials_as_asked(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    caller = fake.switch.place_call(channel_id="caller 1+2")
    fake.switch.script_endpoint("+12895550101", Outcome("answer", after_s=0.01))
    leg = "caller 1+2-xfer 1"
    assert await client.originate(
        leg,
        "PJSIP/+12895550101@contact-centres",
        app_args=["transfer", caller],
        caller_id='"311 Durham, Région" <+19055550000>',
        originator=caller,
    )

    evs = await events.wait_for(
        lambda evs: any(isinstance(e, StasisStart) and e.channel.id == leg for e in evs)
    )
    start = next(e for e in evs if isinstance(e, StasisStart) and e.channel.id == leg)
    assert start.args == ("transfer", caller)
    assert start.channel.caller.number == "+19055550000"
    assert start.channel.caller.name == "311 Durham, Région"
    assert fake.switch.record(leg).originator == caller
