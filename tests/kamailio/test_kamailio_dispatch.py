"""Kamailio from `ivr311 kamailio-conf render` in front of two SIPp nodes, a SIPp carrier
calling through it: load spread, failover, probing, readiness preference and the carrier check.

Each node's INVITEs are read from its SIPp message trace by Call-ID, so every assertion says
which node took which call.
"""

from __future__ import annotations

import http.client
import json

import pytest
from kamailio_testing import STRANGER_IP, Cluster, place_calls
from local_processes import wait_until

CALLS = 8


def taken(cluster: Cluster) -> list[set[str]]:
    """The Call-IDs each node received an INVITE for, so far."""
    return [node.invites() for node in cluster.nodes]


def call(cluster: Cluster, calls: int = CALLS) -> frozenset[str]:
    """``calls`` carrier calls; every one must be answered."""
    placed = place_calls(cluster.sipp, cluster.work, cluster.proxy.sip, calls=calls)
    assert placed.exit_code == 0, placed.output + cluster.proxy.log_text()[-3000:]
    assert len(placed.call_ids) == calls
    return placed.call_ids


def test_calls_spread_over_both_nodes(cluster: Cluster) -> None:
    """No controller ready anywhere: the calls still reach live nodes, spread over both."""
    calls = call(cluster)
    first, second = taken(cluster)
    assert first | second == calls
    assert abs(len(first) - len(second)) <= 2, "round-robin over both nodes"


def test_ready_nodes_share_the_calls(cluster: Cluster) -> None:
    both_ready(cluster)
    calls = call(cluster)
    first, second = taken(cluster)
    assert first | second == calls
    assert abs(len(first) - len(second)) <= 2, "round-robin over both ready nodes"


def both_ready(cluster: Cluster) -> None:
    """Both controllers ready: strict round-robin, so each node is first for half the calls."""
    for node in cluster.nodes:
        cluster.proxy.set_ready(node.address)


@pytest.mark.parametrize("node_scenarios", [("node_503.xml", "node.xml")])
def test_a_node_answering_503_passes_its_calls_to_the_other(cluster: Cluster) -> None:
    both_ready(cluster)
    calls = call(cluster)
    refused, answered = taken(cluster)
    assert answered == calls, "every call ends on the node that answers"
    assert refused & calls, "the refusing node was tried first for some calls"


@pytest.mark.parametrize("node_scenarios", [("node_silent.xml", "node.xml")])
def test_a_node_that_does_not_answer_passes_its_calls_to_the_other(cluster: Cluster) -> None:
    both_ready(cluster)
    calls = call(cluster, 4)
    ignored, answered = taken(cluster)
    assert answered == calls
    assert ignored & calls, "the silent node was tried first for some calls"


def test_a_killed_node_is_taken_out_by_probing(cluster: Cluster) -> None:
    dead, survivor = cluster.nodes
    dead.stop()
    wait_until(
        lambda: dead.address not in cluster.proxy.active_nodes(),
        5,
        "the dead node is marked inactive by OPTIONS probing",
    )
    calls = call(cluster)
    assert survivor.invites() == calls
    assert not dead.invites() & calls


def test_a_node_without_a_ready_controller_is_avoided_while_another_is_ready(
    cluster: Cluster,
) -> None:
    never, ready = cluster.nodes
    cluster.proxy.set_ready(ready.address)
    calls = call(cluster)
    assert ready.invites() == calls
    assert not never.invites() & calls


def test_a_node_whose_readiness_expired_is_avoided(cluster: Cluster) -> None:
    expired, ready = cluster.nodes
    cluster.proxy.set_ready(expired.address)

    def expired_while_the_other_keeps_alive() -> bool:
        cluster.proxy.set_ready(ready.address)
        return expired.address not in cluster.proxy.ready_nodes()

    wait_until(expired_while_the_other_keeps_alive, 5, "an unrefreshed readiness key expires")
    calls = call(cluster)
    assert ready.invites() == calls
    assert not expired.invites() & calls


def test_a_ready_controller_on_a_dead_node_does_not_hold_the_calls(cluster: Cluster) -> None:
    """The only key left belongs to a node that died: calls go to the live node without one."""
    dead, alive = cluster.nodes
    cluster.proxy.set_ready(dead.address)
    dead.stop()
    wait_until(lambda: dead.address not in cluster.proxy.active_nodes(), 5, "dead node inactive")
    calls = call(cluster, 4)
    assert alive.invites() == calls


def test_a_caller_that_is_not_a_carrier_is_refused(cluster: Cluster) -> None:
    refused = place_calls(
        cluster.sipp,
        cluster.work,
        cluster.proxy.sip,
        calls=2,
        source_ip=STRANGER_IP,
        scenario="carrier_refused.xml",
    )
    assert refused.exit_code == 0, refused.output
    first, second = taken(cluster)
    assert not (first | second) & refused.call_ids


def test_rpc_only_from_loopback_and_nodes_and_metrics_for_prometheus(cluster: Cluster) -> None:
    host, _, port = cluster.proxy.settings.rpc_listen.rpartition(":")
    body = json.dumps({"jsonrpc": "2.0", "method": "htable.seti", "params": ["x", "y", 1], "id": 1})
    stranger = http.client.HTTPConnection(
        host, int(port), timeout=5, source_address=(STRANGER_IP, 0)
    )
    try:
        stranger.request("POST", "/RPC", body)
        assert stranger.getresponse().status == 403
    finally:
        stranger.close()
    assert "kamailio_" in cluster.proxy.metrics()
    assert cluster.proxy.rpc("core.version")


@pytest.mark.parametrize("node_scenarios", [("node_503.xml", "node.xml")])
def test_when_the_ready_node_refuses_the_call_goes_to_a_node_without_a_controller(
    cluster: Cluster,
) -> None:
    """No call is lost to readiness: once every ready node failed, the others are tried."""
    refusing, fallback = cluster.nodes
    cluster.proxy.set_ready(refusing.address)
    calls = call(cluster, 4)
    assert refusing.invites() >= calls, "the ready node is tried first"
    assert fallback.invites() == calls
