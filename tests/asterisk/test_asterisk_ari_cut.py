"""The controller's ARI event socket cut in the middle of calls on a real Asterisk.

The controller reaches Asterisk through `AriProxy`, which aborts the event socket's TCP
connection (REST requests still go through). Events sent while the socket is down are lost:
Asterisk drops what an application without a socket would get, and a leg that answers then
cannot enter the inactive application (Asterisk hangs it up). After the controller reconnects
and reconciles, each call goes on from where it stands (agents hung up that way are dialled
once more), and no call is answered twice or handled by two call objects (one transition out
of ``answering`` per call).
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ari_proxy import AriProxy
from asterisk_testing import ACCEPT_KEY, BOWMANVILLE_CALLER, AsteriskNode
from controller_testing import (
    ControllerProcess,
    durham_controller,
    hang_up_and_collect,
    live_call,
    metric,
    record_of,
)
from local_processes import wait_until
from sipp_testing import (
    SippParty,
    sipp,
    start_carrier_call,
    start_contact_centre,
    start_contact_centres,
)

from ivr.call import ids

pytestmark = pytest.mark.asterisk

CALL_DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def proxy(node: AsteriskNode) -> Iterator[AriProxy]:
    running = AriProxy(node.http_port).start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def controller(
    node: AsteriskNode, proxy: AriProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    settings = {
        "IVR311_ACCEPT_TIMEOUT_S": "8",
        "IVR311_RECONNECT_INITIAL_S": "0.2",
        "IVR311_RECONNECT_MAX_S": "1",
    }
    with durham_controller(
        node, tmp_path_factory.mktemp("ari-cut"), settings, ari_url=proxy.url
    ) as process:
        yield process


def in_state(controller: ControllerProcess, state: str) -> dict[str, Any] | None:
    call = live_call(controller)
    return call if call is not None and call["state"] == state else None


def answers(controller: ControllerProcess, call_id: str) -> int:
    """How many call objects of the controller answered the call's channel."""
    return sum(
        1
        for e in controller.log_events()
        if e.get("event") == "call.transition"
        and e.get("call_id") == call_id
        and e.get("from") == "answering"
    )


def reconnected_after(controller: ControllerProcess, reconnects: float) -> bool:
    return (
        metric(controller, "ivr311_ari_reconnects_total") > reconnects
        and metric(controller, "ivr311_ari_connected") == 1.0
    )


def leg_gone(node: AsteriskNode, call_id: str) -> bool:
    """Whether the first leg the call dialled is gone from Asterisk."""
    try:
        node.ari("GET", f"/channels/{ids.leg_id(call_id, 1)}")
    except urllib.error.HTTPError as exc:
        return exc.code == 404
    return False


def assert_completed_once(
    controller: ControllerProcess,
    call_id: str,
    record: dict[str, Any],
    attempts: list[tuple[str, str]],
) -> None:
    """The call completed after ``attempts`` (destination, result), answered by one call
    object only."""
    assert record["outcome"] == "completed"
    assert [(a["destination"], a["result"]) for a in record["attempts"]] == attempts
    assert answers(controller, call_id) == 1


def test_a_call_in_the_greeting_goes_on_to_the_agents_after_a_cut(
    node: AsteriskNode, controller: ControllerProcess, proxy: AriProxy, tmp_path: Path
) -> None:
    """Cut during the greeting: the greeting's end is lost with the socket; at the reconnect
    the call stops it and goes on to the agents, who take the call."""
    reconnects = metric(controller, "ivr311_ari_reconnects_total")
    centre = start_contact_centre(node, tmp_path, steps=(2000, ACCEPT_KEY))
    caller: SippParty | None = None
    try:
        caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER)
        seen = wait_until(lambda: in_state(controller, "greeting"), 20, "the greeting")
        call_id = str(seen["call_id"])
        assert proxy.cut_event_sockets() == 1
        wait_until(lambda: reconnected_after(controller, reconnects), 20, "the reconnect")
        wait_until(lambda: in_state(controller, "bridged"), CALL_DEADLINE_S, "the bridge")
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        if caller is not None:
            caller.kill()
    assert_completed_once(controller, call_id, record, [("durham-agents", "answered")])


def test_agents_ringing_through_a_cut_get_the_caller(
    node: AsteriskNode, controller: ControllerProcess, proxy: AriProxy, tmp_path: Path
) -> None:
    """The socket goes down while the agents ring and comes back before they answer: the
    call waits on for them, whispers and, with their accept key, connects the caller."""
    reconnects = metric(controller, "ivr311_ari_reconnects_total")
    # rings 4 s, answers, presses the accept key 2 s later
    centre = start_contact_centre(node, tmp_path, steps=(2000, ACCEPT_KEY), ring_ms=4000)
    caller: SippParty | None = None
    try:
        caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER, steps=(1000, "0"))
        seen = wait_until(
            lambda: in_state(controller, "transferring.ringing"), 30, "the agents to ring"
        )
        call_id = str(seen["call_id"])
        with proxy.holding():
            wait_until(lambda: metric(controller, "ivr311_ari_connected") == 0.0, 10, "the cut")
        wait_until(lambda: reconnected_after(controller, reconnects), 20, "the reconnect")
        wait_until(lambda: in_state(controller, "bridged"), CALL_DEADLINE_S, "the bridge")
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        if caller is not None:
            caller.kill()
    assert_completed_once(controller, call_id, record, [("durham-agents", "answered")])


def test_agents_answering_while_the_socket_is_down_are_dialled_again(
    node: AsteriskNode, controller: ControllerProcess, proxy: AriProxy, tmp_path: Path
) -> None:
    """The socket goes down while the agents ring and stays down while they answer: Asterisk
    hangs their leg up at once (the application is not active, its Stasis() fails). After the
    reconnect the call finds the leg gone unseen and dials the agents once more; this time
    they get the caller."""
    reconnects = metric(controller, "ivr311_ari_reconnects_total")
    centre = start_contact_centres(node, tmp_path, calls=2, steps=(2000, ACCEPT_KEY), ring_ms=3000)
    caller: SippParty | None = None
    try:
        caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER, steps=(1000, "0"))
        seen = wait_until(
            lambda: in_state(controller, "transferring.ringing"), 30, "the agents to ring"
        )
        call_id = str(seen["call_id"])
        with proxy.holding():
            wait_until(lambda: leg_gone(node, call_id), 20, "the agents' leg to be hung up")
        wait_until(lambda: reconnected_after(controller, reconnects), 20, "the reconnect")
        wait_until(lambda: in_state(controller, "bridged"), CALL_DEADLINE_S, "the bridge")
        node.ari("DELETE", f"/channels/{call_id}?reason=normal")
        assert caller.wait(timeout_s=20) == 0
        record = wait_until(
            lambda: record_of(controller, call_id), 20, "the call's decision record"
        )
    finally:
        centre.kill()
        if caller is not None:
            caller.kill()
    assert len(centre.requests("INVITE")) >= 2
    assert_completed_once(
        controller,
        call_id,
        record,
        [("durham-agents", "lost"), ("durham-agents", "answered")],
    )


def test_a_conversation_outlives_a_cut(
    node: AsteriskNode, controller: ControllerProcess, proxy: AriProxy, tmp_path: Path
) -> None:
    """Cut while the caller talks with the agents: the conversation stays up, and when the
    caller hangs up the agents' leg is hung up and the call recorded as completed."""
    reconnects = metric(controller, "ivr311_ari_reconnects_total")
    centre = start_contact_centre(node, tmp_path, steps=(1500, ACCEPT_KEY))
    caller: SippParty | None = None
    try:
        caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER, steps=(1000, "0"))
        seen = wait_until(lambda: in_state(controller, "bridged"), CALL_DEADLINE_S, "the bridge")
        call_id = str(seen["call_id"])
        assert proxy.cut_event_sockets() == 1
        wait_until(lambda: reconnected_after(controller, reconnects), 20, "the reconnect")
        assert in_state(controller, "bridged") is not None
        record = hang_up_and_collect(node, controller, caller, centre, call_id)
    finally:
        centre.kill()
        if caller is not None:
            caller.kill()
    assert record["outcome"] == "completed"
    assert answers(controller, call_id) == 1
