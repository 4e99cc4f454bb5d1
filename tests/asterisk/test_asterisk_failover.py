"""Faults under load, with Kamailio in front of two real nodes and a carrier placing calls at a
steady rate: a node's Asterisk dies, or its controller does. The callers' view (SIPp's trace,
call by call) says which calls were lost and which never noticed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from asterisk_testing import BOWMANVILLE_CALLER
from cluster_testing import Cluster, Member
from controller_testing import metric
from kamailio_testing import CARRIER_IP, KamailioProxy
from load_testing import CallOutcome, CarrierLoad, start_answered_load
from local_processes import wait_until
from prometheus_client.parser import text_string_to_metric_families
from sipp_testing import SippParty

pytestmark = pytest.mark.asterisk

RATE_PER_S = 5
CALLS = 80
"""16 s of calls at 5 a second: a few seconds before the fault, the rest after it."""
CALLS_BEFORE_FAULT = 8
"""Calls the victim node takes before the fault (so some are up on it when it strikes)."""
HELD_MS = 25000
"""How long callers stay once answered when a controller is killed: long enough for its calls
to outlast its restart on a busy machine."""


def node_up(proxy: KamailioProxy, member: Member) -> float | None:
    """``kamailio_node_up`` of the member's node at Kamailio's /metrics (None: not set yet)."""
    for family in text_string_to_metric_families(proxy.metrics()):
        for sample in family.samples:
            if sample.name == "kamailio_node_up" and sample.labels["node"] == member.sip_address:
                return sample.value
    return None


def placed_after(outcomes: list[CallOutcome], moment: float) -> list[CallOutcome]:
    return [outcome for outcome in outcomes if outcome.started > moment]


def start_calls(
    work: Path, survivor: Member, proxy: KamailioProxy, *, hold_ms: int
) -> tuple[SippParty, CarrierLoad]:
    """`CALLS` carrier calls through Kamailio at `RATE_PER_S`, each held ``hold_ms`` once
    answered; the survivor's contact centres take every transfer."""
    return start_answered_load(
        work,
        survivor.node,
        target=proxy.sip,
        local_ip=CARRIER_IP,
        calling=BOWMANVILLE_CALLER,
        calls=CALLS,
        rate_per_s=RATE_PER_S,
        hold_ms=hold_ms,
    )


def test_calls_placed_after_a_node_dies_are_all_answered_by_the_other_node(
    proxied_nodes: tuple[Cluster, KamailioProxy], tmp_path: Path
) -> None:
    """SIGKILL one node's Asterisk mid-run: every call placed after the kill is answered by the
    survivor and completes; the calls lost are calls the dead node had answered; Kamailio's
    ``kamailio_node_up`` of the dead node drops to 0 (Ivr311ProxyNodeDown fires on it) and its
    controller reports ARI lost (Ivr311AriDisconnected)."""
    cluster, proxy = proxied_nodes
    survivor, victim = cluster.members
    centre, load = start_calls(tmp_path, survivor, proxy, hold_ms=4000)
    try:
        wait_until(
            lambda: (
                metric(victim.controller, "ivr311_calls_offered_total", dialled="311")
                >= CALLS_BEFORE_FAULT
            ),
            30,
            "calls on the node about to die",
        )
        killed_at = time.time()
        victim.node.kill()
        wait_until(lambda: node_up(proxy, victim) == 0, 10, "Kamailio to report the node down")
        wait_until(
            lambda: metric(victim.controller, "ivr311_ari_connected") == 0,
            10,
            "the dead node's controller to report its ARI lost",
        )
        load.wait(timeout_s=120)
    finally:
        load.kill()
        centre.kill()
    outcomes = load.outcomes()
    after = placed_after(outcomes, killed_at)
    lost = [outcome for outcome in outcomes if not outcome.completed]
    assert len(outcomes) == CALLS and len(after) >= CALLS // 2
    assert [o for o in after if not o.completed] == []
    assert {o.answered_by for o in after} == {survivor.node.sip_port}
    # The lost calls are calls the dead node had answered before it died (none of the
    # survivor's); they are what a caller would notice.
    assert lost and all(o.answered_by == victim.node.sip_port for o in lost)
    assert all(o.started < killed_at for o in lost)
    assert node_up(proxy, survivor) is None  # never went down


def test_a_killed_controller_loses_no_call_and_its_restart_resumes_the_calls_on_its_node(
    proxied_nodes: tuple[Cluster, KamailioProxy], tmp_path: Path
) -> None:
    """SIGKILL one controller mid-run: Kamailio stops preferring its node once the node's
    readiness key expires, the calls arriving there meanwhile are answered by its fallback
    dialplan, no call fails; restarted, the controller resumes the calls that were up on its
    node (still up: the callers stay `HELD_MS`) from their saved state, or afresh from the
    greeting for a caller with none, instead of handing them to the fallback."""
    cluster, proxy = proxied_nodes
    survivor, victim = cluster.members
    centre, load = start_calls(tmp_path, survivor, proxy, hold_ms=HELD_MS)
    try:
        wait_until(
            lambda: len(victim.controller.live_calls()) >= CALLS_BEFORE_FAULT // 2,
            30,
            "calls up on the node whose controller is about to die",
        )
        held = {str(call["call_id"]) for call in victim.controller.live_calls()}
        victim.controller.kill()
        wait_until(
            lambda: victim.sip_address not in proxy.ready_nodes(),
            10,
            "Kamailio to forget the node's readiness",
        )
        victim.controller.restart()
        wait_until(
            lambda: (
                (up := held & {channel["id"] for channel in victim.node.ari("GET", "/channels")})
                and up <= {str(call["call_id"]) for call in victim.controller.live_calls()}
            ),
            20,
            "the restarted controller to hold every call still up on its node",
        )
        resumed = {str(call["call_id"]) for call in victim.controller.live_calls()}
        load.wait(timeout_s=120)
    finally:
        load.kill()
        centre.kill()
    outcomes = load.outcomes()
    assert len(outcomes) == CALLS
    assert [o for o in outcomes if not o.completed] == []
    assert {o.answered_by for o in outcomes} == {survivor.node.sip_port, victim.node.sip_port}
    assert resumed & held
    assert metric(victim.controller, "ivr311_calls_handed_back_total", reason="reconcile") == 0
