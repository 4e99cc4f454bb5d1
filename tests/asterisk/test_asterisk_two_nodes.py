"""Two Asterisk nodes on loopback, each with its own controller, sharing one rule store: each
node's calls go through its own controller to the contact centre both nodes dial."""

from __future__ import annotations

from pathlib import Path

import pytest
from asterisk_testing import ACCEPT_KEY, BOWMANVILLE_CALLER
from cluster_testing import Cluster
from controller_testing import live_call, metric, record_of
from local_processes import wait_until
from sipp_testing import SippParty, start_carrier_call, start_contact_centres

pytestmark = pytest.mark.asterisk


def test_both_controllers_run_the_one_version_of_the_shared_store(two_nodes: Cluster) -> None:
    versions = {metric(m.controller, "ivr311_rules_active_version") for m in two_nodes.members}
    assert len(two_nodes) == 2
    assert len(versions) == 1 and versions.pop() >= 1


def test_each_node_connects_its_own_caller_through_its_own_controller(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    first, second = two_nodes.members
    centre = start_contact_centres(first.node, tmp_path, calls=2, steps=(1500, ACCEPT_KEY))
    callers: list[SippParty] = []
    try:
        for member in (first, second):
            callers.append(
                start_carrier_call(
                    member.node,
                    tmp_path,
                    calling=BOWMANVILLE_CALLER,
                    name=f"caller-{member.index}",
                    steps=(1000, "0"),
                )
            )
        calls = [
            wait_until(
                lambda m=member: (c := live_call(m.controller)) and c["state"] == "bridged" and c,
                60,
                f"the call on node {member.index} to be bridged",
            )
            for member in (first, second)
        ]
        for member, call in zip((first, second), calls, strict=True):
            member.node.ari("DELETE", f"/channels/{call['call_id']}?reason=normal")
        assert [caller.wait(timeout_s=20) for caller in callers] == [0, 0]
        assert centre.wait(timeout_s=20) == 0
        records = [
            wait_until(
                lambda m=member, c=call: record_of(m.controller, c["call_id"]),
                20,
                "the call's decision record",
            )
            for member, call in zip((first, second), calls, strict=True)
        ]
    finally:
        centre.kill()
        for caller in callers:
            caller.kill()
    assert [r["outcome"] for r in records] == ["completed", "completed"]
    # each controller handled its own node's call only; ids carry the node's name
    assert [str(c["call_id"]).split("-")[0] for c in calls] == ["node0", "node1"]
    for member in (first, second):
        assert metric(member.controller, "ivr311_calls_offered_total", dialled="311") == 1.0
