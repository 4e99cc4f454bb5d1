"""Scripted callers on the simulated switch, driven through a tiny controller on the client."""

from __future__ import annotations

from ari_testing import EventCollector

from ivr.ari import AriClient, AriEvent, CallDispatcher
from ivr.ari.events import ChannelDtmfReceived, StasisStart
from switchsim import FakeAri
from switchsim.traffic import ScriptedCall, describe_call, mixed_calls, play_call, run_traffic


async def test_a_call_with_no_controller_falls_back(fake: FakeAri) -> None:
    record = await play_call(fake.switch, ScriptedCall("9055550123", keys=((0.0, "2"),)))
    assert record.stasis_failed
    assert describe_call(fake.switch, record) == (
        "905555-xxxx -> 311; controller not connected: dialplan fallback; answered; "
        "hung up by caller"
    )


async def test_scripted_caller_against_a_tiny_controller(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    async def handle(key: str, event: AriEvent) -> None:
        if isinstance(event, StasisStart):
            await client.answer(event.channel.id)
            await client.play(event.channel.id, f"{key}-greeting", ["sound:ivr311/greeting"])
        elif isinstance(event, ChannelDtmfReceived):
            await client.hangup(event.channel.id)

    dispatcher = CallDispatcher(handle)
    events.listeners.append(dispatcher.dispatch)
    finished: list[str] = []
    await run_traffic(
        fake.switch,
        [ScriptedCall("9055550123", keys=((0.05, "2"),), hangup_after_s=5.0)],
        interval_s=0.0,
        repeat=False,
        on_finished=lambda record: finished.append(describe_call(fake.switch, record)),
    )
    await dispatcher.join()

    assert finished == ["905555-xxxx -> 311; answered; heard greeting; pressed 2; hung up by app"]


def test_mixed_calls_vary_behaviour() -> None:
    calls = mixed_calls(
        ["905623", "905697", "705324", "905985", "905432"], dialled=("311", "8005550311")
    )
    assert [c.calling for c in calls] == [
        "9056230000",
        "9056970001",
        "7053240002",
        "anonymous",
        "9054320004",
    ]
    assert {c.dialled for c in calls} == {"311", "8005550311"}
    assert calls[2].keys == ((1.0, "0"),)


async def test_descriptions_never_show_a_full_number(fake: FakeAri) -> None:
    lines = []
    for calling in ("+19055550123", "anonymous", ""):
        record = await play_call(fake.switch, ScriptedCall(calling, hangup_after_s=0))
        lines.append(describe_call(fake.switch, record).split(";")[0])
    assert lines == ["905555-xxxx -> 311", "anonymous -> 311", "withheld -> 311"]
