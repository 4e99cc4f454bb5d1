"""What an event socket that drops, and an Asterisk that restarts, must not do to calls: leave
a call the controller believes in after its channel is gone, answer a caller twice, or leave a
caller whose StasisStart was lost in silence."""

from __future__ import annotations

import json

import pytest
from ivr_testing import Harness, inside_number

from ivr.call import CallState

APP = "ivr311"


async def test_a_conversation_cut_by_an_asterisk_restart_is_recorded_as_lost(
    harness: Harness,
) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(harness.state_is(call_id, "bridged"))
    ended = harness.metric("ivr311_calls_ended_total", {"outcome": "lost_on_reconnect"})
    harness.controller.reconciled.clear()
    await harness.fake.restart()  # every channel and bridge vanishes with no event
    record = await harness.ended(call_id)
    await harness.wait(harness.controller.reconciled.wait())
    assert record["outcome"] == "lost_on_reconnect"
    assert harness.controller.calls == {}
    assert harness.metric("ivr311_active_calls") == 0
    assert harness.metric("ivr311_calls_ended_total", {"outcome": "lost_on_reconnect"}) == ended + 1
    assert harness.nothing_left()


async def test_a_repeated_stasis_start_does_not_answer_the_caller_again(
    harness: Harness,
) -> None:
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(call_id)
    first = harness.controller.calls[call_id]
    channel = harness.switch.channels[call_id].snapshot()
    frame = {"type": "StasisStart", "application": APP, "args": ["inbound", "311"]}
    assert harness.fake.send_raw(APP, json.dumps(frame | {"channel": channel})) == 1
    harness.switch.press(call_id, "1")
    await harness.until(harness.state_is(call_id, "bridged"))
    assert harness.controller.calls[call_id] is first
    assert harness.record(call_id).history.count("answered") == 1
    assert harness.metric("ivr311_calls_offered_total", {"dialled": "311"}) == 1


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered"])
async def test_a_caller_whose_stasis_start_was_lost_is_started_at_the_reconnect(
    harness: Harness, answered: bool
) -> None:
    """The StasisStart goes out just as the socket fails: the caller is in the application,
    answered by the dialplan or not, unknown to the controller. The reconcile starts the call
    (it is not handed to the fallback), answering it if the dialplan did not, and it goes on
    as any other."""
    app = harness.switch.apps[APP]
    sink, app.sink = app.sink, (lambda payload: None)  # lost in flight
    call_id = harness.call(inside_number(harness.snapshot), answered=answered)
    app.sink = sink
    assert call_id not in harness.controller.calls
    harness.controller.reconciled.clear()
    await harness.fake.restart(keep_channels=True)
    await harness.wait(harness.controller.reconciled.wait())
    await harness.skip_greeting(call_id)
    await harness.until(harness.state_is(call_id, "bridged"))
    caller = harness.record(call_id)
    assert caller.continued_to is None
    assert caller.history.count("answered") == 1
    assert harness.requests_for(call_id, "answer") == (0 if answered else 1)
    assert harness.controller.calls[call_id].state is CallState.BRIDGED
