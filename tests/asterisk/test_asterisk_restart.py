"""Asterisk dies and comes back under a controller with 50 calls up on it.

Half of the callers (Bowmanville) wait on hold while Service Durham's agents ring and never
answer; the other half (Ajax-Pickering, choosing Pickering in the menu) talk with Pickering's
customer care centre. Asterisk is then killed (SIGKILL: a crash, no channel hung up, no event
sent) and started again. Once the controller has reconnected, nothing of those calls is left:
no channel or bridge of the application on the new Asterisk, no call in the controller's live
view or its active-calls gauge, and every call recorded as lost; a new call is then taken
as usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asterisk_testing import (
    ACCEPT_KEY,
    AJAX_PICKERING_CALLER,
    BOWMANVILLE_CALLER,
    DURHAM_AGENTS,
    PICKERING_KEY,
    AsteriskNode,
)
from controller_testing import ControllerProcess, durham_controller, metric
from local_processes import wait_until
from sipp_testing import SippParty, sipp, start_carrier_call, start_contact_centres

pytestmark = pytest.mark.asterisk

ON_HOLD = 25
"""Callers on hold while the agents ring."""
TALKING = 25
"""Callers in a conversation with Pickering's centre."""
RINGING = "transferring.ringing"
BRIDGED = "bridged"
RECONNECT_SETTINGS = {"IVR311_RECONNECT_INITIAL_S": "0.2", "IVR311_RECONNECT_MAX_S": "1"}


@pytest.fixture(scope="module")
def controller(
    node: AsteriskNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    # The agents ring for as long as the rules allow: nobody's ring timer runs out during the
    # test, so every call is still where it was when Asterisk goes.
    with durham_controller(
        node,
        tmp_path_factory.mktemp("restart"),
        RECONNECT_SETTINGS,
        transfer={"ring_timeout_s": 120},
    ) as process:
        yield process


def states(controller: ControllerProcess) -> Counter[str]:
    return Counter(str(c["state"]) for c in controller.live_calls())


def app_state(node: AsteriskNode) -> dict[str, Any]:
    answer: dict[str, Any] = node.ari("GET", "/applications/ivr311")
    return answer


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_asterisk_restarted_with_50_calls_up_leaves_nothing_behind(
    node: AsteriskNode, controller: ControllerProcess, tmp_path: Path, how: str
) -> None:
    """``killed``: SIGKILL, every call vanishes unseen and is recorded as lost. ``stopped``:
    ``core stop now``, Asterisk hangs every channel up as it goes, and the controller sees
    some of it before its socket closes; every call is still recorded once, nothing stays."""
    parties: list[SippParty] = []
    try:
        parties.append(
            start_contact_centres(
                node,
                tmp_path,
                calls=ON_HOLD + TALKING,
                ringing=DURHAM_AGENTS,
                steps=(1500, ACCEPT_KEY),
                timeout_s=240,
            )
        )
        parties.append(
            start_carrier_call(
                node,
                tmp_path,
                calling=BOWMANVILLE_CALLER,
                name="on-hold",
                calls=ON_HOLD,
                timeout_s=240,
            )
        )
        parties.append(
            start_carrier_call(
                node,
                tmp_path,
                calling=AJAX_PICKERING_CALLER,
                name="talking",
                # the first key skips the greeting, the second answers the menu
                steps=(1000, PICKERING_KEY, 2500, PICKERING_KEY),
                calls=TALKING,
                timeout_s=240,
            )
        )
        wait_until(
            lambda: states(controller) == Counter({RINGING: ON_HOLD, BRIDGED: TALKING}),
            120,
            f"{ON_HOLD} calls on hold and {TALKING} in a conversation",
        )
        call_ids = {str(c["call_id"]) for c in controller.live_calls()}
        before = app_state(node)
        # each caller, each ringing or answered leg; a mixing bridge per conversation (a
        # caller on hold hears music on their own channel, in no bridge)
        assert len(before["channel_ids"]) == 2 * (ON_HOLD + TALKING)
        assert len(before["bridge_ids"]) == TALKING
        lost = metric(controller, "ivr311_calls_ended_total", outcome="lost_on_reconnect")

        if how == "killed":
            node.kill()
        else:
            node.stop()
        node.start()

        wait_until(
            lambda: (
                metric(controller, "ivr311_ari_connected") == 1.0
                and metric(controller, "ivr311_ari_reconnects_total") >= 1.0
                and controller.live_calls() == []
            ),
            60,
            "the controller to reconnect and let go of the calls",
        )
        records = {
            r["call_id"]: r
            for r in controller.get_json("/api/calls?limit=500")["recent"]
            if r["call_id"] in call_ids
        }
        # Wait for the records and the gauge too, then look at what is left on the new node.
        wait_until(
            lambda: metric(controller, "ivr311_active_calls") == 0.0,
            10,
            "the active-calls gauge to fall to 0",
        )
        assert node.ari("GET", "/channels") == []
        assert node.ari("GET", "/bridges") == []
        assert app_state(node)["channel_ids"] == []
        assert app_state(node)["bridge_ids"] == []
        assert set(records) == call_ids
        ended = metric(controller, "ivr311_calls_ended_total", outcome="lost_on_reconnect") - lost
        if how == "killed":
            assert {r["outcome"] for r in records.values()} == {"lost_on_reconnect"}
            assert ended == ON_HOLD + TALKING
        else:
            outcomes = Counter(r["outcome"] for r in records.values())
            assert set(outcomes) <= {"lost_on_reconnect", "caller_hangup", "completed"}
            assert ended == outcomes["lost_on_reconnect"]
        for party in parties:
            party.kill()

        # The controller takes the next call on the restarted node as usual.
        caller = start_carrier_call(node, tmp_path, calling=BOWMANVILLE_CALLER, name="after")
        parties.append(caller)
        seen = wait_until(
            lambda: next((c for c in controller.live_calls() if c["state"] == "greeting"), None),
            20,
            "a new call to reach the greeting",
        )
        node.ari("DELETE", f"/channels/{seen['call_id']}?reason=normal")
        assert caller.wait(timeout_s=20) == 0
    finally:
        for party in parties:
            party.kill()
