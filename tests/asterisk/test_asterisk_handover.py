"""Transfers the controller hands to the generated dialplan (``IVR311_TRANSFERS=dialplan``, the
default) on a real Asterisk: SIPp callers and contact centres, as in `test_asterisk_controller`.

The controller follows the call only to the hand-over; the test waits on what Asterisk shows
(the marks the transfer context leaves on the caller's channel) and on the decision record,
which the controller writes when the caller's channel is destroyed.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_testing import (
    ACCEPT_KEY,
    AJAX_PICKERING_CALLER,
    BOWMANVILLE_CALLER,
    DURHAM_AGENTS,
    PICKERING_CCC,
    PICKERING_KEY,
    AsteriskNode,
)
from controller_testing import (
    ControllerProcess,
    durham_controller,
    hang_up_and_collect,
    live_call,
    metric,
)
from local_processes import wait_until
from sipp_testing import SippParty, sipp, start_carrier_call, start_contact_centre

from dialplan.transfer_plan import OUTCOME_VARIABLE, TRANSFER_CONTEXT

pytestmark = pytest.mark.asterisk

DEADLINE_S = 60.0
"""Greeting (about 8 s), announcement, ringing, whisper: a call is bridged well within this."""


@pytest.fixture(scope="module")
def controller(
    node: AsteriskNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    settings = {"IVR311_TRANSFERS": "dialplan", "IVR311_ACCEPT_TIMEOUT_S": "4"}
    with durham_controller(node, tmp_path_factory.mktemp("handover"), settings) as process:
        yield process


def outcome(node: AsteriskNode, call_id: str) -> str:
    """The marks the transfer context left on the caller so far."""
    try:
        answer = node.ari("GET", f"/channels/{call_id}/variable?variable={OUTCOME_VARIABLE}")
    except urllib.error.HTTPError:
        return ""
    return str(answer["value"])


def until_bridged(node: AsteriskNode, controller: ControllerProcess, caller: SippParty) -> str:
    """Wait until the controller takes the call and the dialplan has bridged it; its id."""
    seen = wait_until(lambda: live_call(controller), 20, "the controller to take the call")
    call_id = str(seen["call_id"])

    def bridged() -> bool:
        if caller.process.poll() is not None:
            raise AssertionError(f"the caller left early: {caller.trace()[-2000:]}")
        return " k:" in outcome(node, call_id)

    wait_until(bridged, DEADLINE_S, "the dialplan to bridge the call")
    return call_id


def transitions(controller: ControllerProcess, call_id: str) -> list[str]:
    return [
        str(e["to"])
        for e in controller.log_events()
        if e.get("call_id") == call_id and e.get("event") == "call.transition"
    ]


def test_a_bowmanville_caller_is_handed_to_the_dialplan_and_reaches_the_agents(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    answered = metric(
        controller, "ivr311_transfers_total", target="durham-agents", result="answered"
    )
    offset = node.log_size()
    centre = start_contact_centre(node, tmp_path, steps=(2000, ACCEPT_KEY))
    caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER)
    try:
        call_id = until_bridged(node, controller, caller)
        channel = node.ari("GET", f"/channels/{call_id}")
        assert channel["dialplan"]["context"] == TRANSFER_CONTEXT
        assert live_call(controller)["state"] == "transferring.hold"
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        caller.kill()
    assert (
        centre.requests("INVITE")[0] == f"sip:{DURHAM_AGENTS}@127.0.0.2:{node.contact_centre_port}"
    )
    assert record["destination"] == "durham-agents"
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        ("durham-agents", "answered")
    ]
    assert record["outcome"] == "completed"
    assert 0 < record["durations"]["answer_to_person_s"] < DEADLINE_S
    assert record["durations"]["bridged_s"] > 0
    states = transitions(controller, call_id)
    assert states[:3] == ["greeting", "transferring.hold", "transferring.ringing"]
    assert states[-2:] == ["bridged", "ended"]
    log = node.log_lines(offset=offset)
    assert any(
        "<PJSIP/contact-centres-" in line and "Playing 'en/ivr311/whisper-intro" in line
        for line in log
    ), "the centre heard the whisper"
    assert any(
        "Started music on hold, class 'default', on channel 'PJSIP/carrier-" in line for line in log
    )
    assert (
        metric(controller, "ivr311_transfers_total", target="durham-agents", result="answered")
        == answered + 1
    )
    problems = [line for line in log if "] ERROR[" in line]
    assert problems == []


def test_a_busy_pickering_centre_falls_back_to_the_agents_in_the_dialplan(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY), busy=PICKERING_CCC)
    caller = start_carrier_call(
        node,
        tmp_path,
        calling=AJAX_PICKERING_CALLER,
        steps=(1000, PICKERING_KEY, 2500, PICKERING_KEY),
    )
    try:
        call_id = until_bridged(node, controller, caller)
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        caller.kill()
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == [
        ("pickering-ccc", "busy"),
        ("durham-agents", "answered"),
    ]
    assert record["outcome"] == "completed"


def test_a_killed_controller_leaves_the_conversation_up_and_the_next_one_records_it(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path
) -> None:
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY))
    caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER)
    try:
        call_id = until_bridged(node, controller, caller)
        controller.kill()
        controller.restart()
        wait_until(
            lambda: (c := live_call(controller)) is not None and c["call_id"] == call_id,
            20,
            "the new controller to follow the call",
        )
        assert caller.process.poll() is None, "the conversation went on"
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        caller.kill()
    assert record["outcome"] == "completed"
    assert [a["result"] for a in record["attempts"]] == ["answered"]
