"""The controller process: reconcile after restarts, alarms, floods, draining."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest
from ivr_testing import GREETING, Harness, fast_settings, inside_number, menu_number

from ivr.ari import AriEventStream
from ivr.call import STATE_VARIABLE
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.controller.run import serve
from ivr.metrics import Metrics
from routing_rules.decision import Decision
from routing_rules.snapshot import RuleSnapshot
from switchsim import FakeAri, FakeSwitch, Outcome
from switchsim.commands import scripted_switch
from switchsim.simulation import simulated_settings

FALLBACK = ("ivr311-fallback", "311", 1)


async def test_asterisk_restart_ends_lost_calls_and_reconnects(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.controller.reconciled.clear()
    await harness.fake.restart()  # every channel is lost, the socket drops
    record = await harness.ended(call_id)
    await harness.wait(harness.controller.reconciled.wait())
    assert record["outcome"] == "lost_on_reconnect"
    assert harness.metric("ivr311_ari_reconnects_total") == 1
    assert harness.metric("ivr311_ari_connected") == 1
    # The reconnected controller takes new calls.
    again = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(again)


async def test_socket_drop_resumes_calls_still_in_the_application(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    harness.controller.reconciled.clear()
    await harness.fake.restart(keep_channels=True)
    await harness.wait(harness.controller.reconciled.wait())
    caller = harness.record(call_id)
    # The greeting's end may have been missed while the socket was down: the call goes on.
    await harness.until(lambda: bool(caller.bridged_with))
    assert caller.continued_to is None


@pytest.mark.parametrize("without", ["rules", "draining"])
async def test_restarted_controller_without_rules_or_draining_hands_callers_to_the_fallback(
    harness: Harness, durham: RuleSnapshot, without: str
) -> None:
    """A caller in the greeting (nothing saved) is started afresh by a restarted controller
    that can take calls; one that has no rules yet, or drains, gives them to the fallback."""
    harness.switch.media_durations[GREETING] = 30.0
    waiting = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(waiting)
    greeting = next(
        harness.switch.playbacks[p.playback_id]
        for p in harness.record(waiting).plays
        if GREETING in p.media
    )
    assert greeting.timer is not None
    switch = harness.switch
    still_to_play = greeting.media[greeting.index + 1 :]
    # when the greeting would end if nobody stopped it
    greeting_ends_at = greeting.timer.when() + sum(
        switch.media_durations.get(m, switch.playback_s) for m in still_to_play
    )
    talking = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(talking)
    await harness.until(lambda: bool(harness.record(talking).bridged_with))
    await harness.controller.persistor.settled()
    await harness.controller.close()  # the controller dies without draining
    assert STATE_VARIABLE not in harness.switch.channels[waiting].variables

    settings = simulated_settings(fast_settings(), harness.fake)
    if without == "rules":
        second = Controller(settings, RulesSource(None, metrics=Metrics()))
    else:
        second = Controller(settings, RulesSource.fixed(durham, Metrics()))
        second.start_drain()
    async with second:
        await asyncio.wait_for(second.reconciled.wait(), 10)
        await harness.until(lambda: harness.record(waiting).continued_to is not None)
        # Asterisk continues a channel only after its playbacks: the restarted controller
        # stopped the greeting (and what was queued after it) instead of letting it play out.
        assert asyncio.get_running_loop().time() < greeting_ends_at
        assert harness.record(waiting).continued_to == FALLBACK
        assert {p.state for p in harness.record(waiting).plays} == {"stopped"}
        # and the prompts queued behind the greeting were stopped before it: none started
        heard = [p.playback_id for p in harness.record(waiting).plays if p.started]
        assert heard == [greeting.id]
        # The conversation is left up and watched: when the caller hangs up, the other side
        # and the bridge go too.
        assert not harness.record(talking).destroyed
        harness.switch.hangup_caller(talking)
        leg = harness.record(harness.record(talking).bridged_with[0])
        await harness.until(lambda: leg.destroyed and not harness.switch.bridges)
        assert (
            second.metrics.registry.get_sample_value(
                "ivr311_calls_handed_back_total", {"reason": "reconcile"}
            )
            == 1
        )


async def test_application_replaced_raises_the_alarm(harness: Harness) -> None:
    settings = harness.controller.settings
    assert settings.ari_url and settings.ari_user and settings.ari_password
    intruder = AriEventStream(
        settings.ari_url,
        settings.ari_user,
        settings.ari_password.get_secret_value(),
        settings.ari_app,
    )

    async def consume() -> None:
        async for _ in intruder:
            pass

    task = asyncio.create_task(consume())
    try:
        await harness.wait(harness.controller.replaced.wait())
    finally:
        await intruder.close()
        await asyncio.wait_for(task, 5)
    assert harness.metric("ivr311_application_replaced_total") == 1
    assert not harness.controller.ari_connected, "/readyz reports the controller not ready"


async def test_dtmf_flood_on_one_call_does_not_stall_another(harness: Harness) -> None:
    harness.switch.media_durations["sound:ivr311/menu-intro"] = 60.0
    flooded = harness.call(menu_number(harness.snapshot))
    await harness.in_greeting(flooded)
    harness.switch.press(flooded, "1" + "7" * 2000)
    other = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(other)
    await harness.until(lambda: bool(harness.record(other).bridged_with))
    assert harness.metric("ivr311_dtmf_dropped_total") > 0
    harness.switch.hangup_caller(flooded)
    harness.switch.hangup_caller(other)
    await harness.ended(flooded)
    await harness.ended(other)
    await harness.until(harness.nothing_left)


async def test_drain_hands_new_and_unfinished_calls_to_the_fallback(harness: Harness) -> None:
    in_progress = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(in_progress)
    drain = asyncio.create_task(harness.controller.drain(timeout_s=0.3))
    await harness.until(lambda: harness.controller.draining)
    late = harness.call(inside_number(harness.snapshot))
    await harness.until(lambda: harness.record(late).continued_to is not None)
    assert harness.record(late).continued_to == FALLBACK
    assert harness.requests_for(late, "answer") == 0
    await harness.wait(drain)
    assert harness.record(in_progress).continued_to == FALLBACK
    assert harness.metric("ivr311_calls_handed_back_total", {"reason": "draining"}) == 1
    assert harness.metric("ivr311_calls_handed_back_total", {"reason": "drain"}) == 1


async def test_drain_lets_a_call_in_progress_finish(harness: Harness) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(lambda: bool(harness.record(call_id).bridged_with))
    drain = asyncio.create_task(harness.controller.drain(timeout_s=30))
    await harness.until(lambda: harness.controller.draining)
    harness.switch.hangup_caller(call_id)
    await harness.wait(drain)
    assert harness.record(call_id).continued_to is None


async def test_asterisk_down_at_start_means_retrying_not_ready(durham: RuleSnapshot) -> None:
    async with FakeAri(switch=FakeSwitch(playback_s=0.01)) as fake:
        await fake.stop_listening()
        settings = simulated_settings(fast_settings(), fake)
        async with Controller(settings, RulesSource.fixed(durham, Metrics())) as controller:
            from ivr.controller.http import bound_port, make_app, start_server

            runner = await start_server(make_app(controller), "127.0.0.1", 0)
            url = f"http://127.0.0.1:{bound_port(runner)}/readyz"
            try:
                async with aiohttp.ClientSession() as http:
                    async with http.get(url) as resp:
                        assert resp.status == 503
                        assert (await resp.json())["ari_connected"] is False
                    await fake.listen()
                    await controller.stream.wait_connected(10)
                    async with http.get(url) as resp:
                        assert resp.status == 200
            finally:
                await runner.cleanup()


async def test_sigterm_drains_and_stops_the_process(tmp_path: Path) -> None:
    settings = fast_settings(
        database_url=f"sqlite:///{tmp_path / 'rules.db'}", sim_call_interval_s=3600
    )
    up = asyncio.Event()
    seen: list[Controller] = []

    def started(controller: Controller, base: str) -> None:
        seen.append(controller)
        up.set()

    server = asyncio.create_task(
        serve(settings, started=started, extensions=(), simulated=scripted_switch)
    )
    await asyncio.wait_for(up.wait(), 30)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(server, 30)
    assert seen[0].draining
    loop = asyncio.get_running_loop()
    loop.remove_signal_handler(signal.SIGTERM)
    loop.remove_signal_handler(signal.SIGINT)


async def test_unanswered_leg_with_no_event_is_given_up_by_the_controller(
    harness: Harness,
) -> None:
    """A destination that rings past the ring timeout is dropped and the chain goes on (to
    the final message: this caller's chain has one link)."""
    harness.switch.default_outcome = Outcome(kind="ring")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    # The rules' ring_timeout_s (5 s in these rules) and IVR311_RING_GRACE_S (0.5 s here).
    assert await harness.expire(call_id, "ring") == 5.5
    caller = harness.record(call_id)
    await harness.until(lambda: caller.destroyed)
    [leg] = [r for r in harness.switch.records.values() if r.originator == call_id]
    assert leg.hung_up_by == "app" and not leg.answered
    assert "transfer-failed" in harness.heard(call_id)
    record = await harness.ended(call_id)
    assert [a["result"] for a in record["attempts"]] == ["no_answer"]


async def test_malformed_and_unknown_events_are_skipped(harness: Harness) -> None:
    app = harness.controller.settings.ari_app
    harness.fake.send_raw(app, "{not json")
    harness.fake.send_raw(app, '{"type": "BridgeVideoSourceChanged", "bridge": {}}')
    harness.fake.send_raw(app, '{"type": "StasisStart", "args": ["inbound", "311"]}')
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    assert list(harness.controller.calls) == [call_id]


async def test_a_failing_decision_hands_the_caller_to_the_fallback(durham: RuleSnapshot) -> None:
    def broken(*_: object) -> Decision:
        raise RuntimeError("engine bug")

    async with FakeAri(switch=FakeSwitch(playback_s=0.01)) as fake:
        settings = simulated_settings(fast_settings(), fake)
        rules = RulesSource.fixed(durham, Metrics())
        async with Controller(settings, rules, decide=broken) as controller:
            await asyncio.wait_for(controller.reconciled.wait(), 10)
            call_id = fake.switch.place_call("311", inside_number(durham))
            caller = fake.switch.record(call_id)
            await fake.switch.wait_for(lambda: caller.continued_to is not None)
            await asyncio.wait_for(controller.wait_idle(), 10)  # the call has ended
            assert caller.continued_to == FALLBACK
            assert not caller.destroyed
            assert (
                controller.metrics.registry.get_sample_value(
                    "ivr311_calls_handed_back_total", {"reason": "decision_failed"}
                )
                == 1
            )


async def test_a_call_stalled_while_asterisk_is_away_goes_to_the_fallback(
    harness: Harness,
) -> None:
    """Asterisk stops answering while a destination rings. When the ring timer expires, the
    leg cannot be hung up, the final message cannot be played: nothing would move the call on.
    The caller is not left in silence: the fallback dialplan has them once Asterisk is back.
    The call is counted handed back once, as stalled, not again when the reconnect finds it."""
    switch = harness.switch
    switch.default_outcome = Outcome(kind="ring")
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(lambda: any(r.originator == call_id for r in switch.records.values()))
    call = harness.live(call_id)
    await harness.fake.stop()  # every connection drops; the destination rings on

    await harness.expire(call_id, "ring")
    await harness.wait(call.ended.wait())  # the call gave up on Asterisk ...
    await harness.fake.start()
    caller = harness.record(call_id)
    await harness.until(lambda: caller.continued_to is not None)  # ... which then hands it on

    await harness.wait(harness.controller.wait_idle())  # the late hand-back is settled

    assert caller.continued_to == FALLBACK
    assert not caller.destroyed, "nobody hung up on the caller"
    record = await harness.ended(call_id)
    assert record["outcome"] == "handed_back:stalled"
    assert _handed_back(harness) == {"stalled": 1}
    assert harness.metric("ivr311_calls_ended_total", {"outcome": "handed_back"}) == 1


def _handed_back(harness: Harness) -> dict[str, float]:
    """``ivr311_calls_handed_back_total`` by reason."""
    return {
        sample.labels["reason"]: sample.value
        for family in harness.controller.metrics.registry.collect()
        if family.name == "ivr311_calls_handed_back"
        for sample in family.samples
        if sample.name == "ivr311_calls_handed_back_total"
    }
