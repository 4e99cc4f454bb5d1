"""Controllers keep their node's presence at a real Kamailio: a ready controller's node is
preferred; one that stops being ready, drains or stops is avoided within 5 s."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from kamailio_testing import Cluster, place_calls
from local_processes import wait_until

from ivr.controller.proxy_presence import ProxyPresence
from ivr.controller.run import serve
from ivr.settings import load_settings
from switchsim.commands import scripted_switch

AVOIDED_WITHIN_S = 5.0


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """`wait_until` in a thread: the presences keep running on the event loop meanwhile."""
    await asyncio.to_thread(wait_until, condition, timeout_s, what)


async def calls_taken(cluster: Cluster, calls: int = 6) -> list[set[str]]:
    placed = await asyncio.to_thread(
        place_calls, cluster.sipp, cluster.work, cluster.proxy.sip, calls=calls
    )
    assert placed.exit_code == 0, placed.output
    return [node.invites() & placed.call_ids for node in cluster.nodes]


async def test_a_ready_controller_draws_the_calls_and_is_avoided_once_it_stops(
    cluster: Cluster,
) -> None:
    proxy = cluster.proxy
    first, second = cluster.nodes
    ready = {first.address: True, second.address: True}
    presences = [
        ProxyPresence(proxy.rpc_url, node.address, lambda node=node: ready[node.address])
        for node in cluster.nodes
    ]
    try:
        await presences[0].start()
        await eventually(lambda: proxy.ready_nodes() == {first.address}, 5, "first node ready")
        to_first, to_second = await calls_taken(cluster)
        assert to_first and not to_second, "only the node with a ready controller takes calls"

        await presences[1].start()
        await eventually(lambda: len(proxy.ready_nodes()) == 2, 5, "both nodes ready")
        to_first, to_second = await calls_taken(cluster)
        assert to_first and to_second, "two ready nodes share the calls"

        await presences[1].withdraw()
        await eventually(
            lambda: proxy.ready_nodes() == {first.address},
            AVOIDED_WITHIN_S,
            "a withdrawn node's key is gone",
        )
        to_first, to_second = await calls_taken(cluster)
        assert to_first and not to_second, "the withdrawn node takes no new call"

        ready[first.address] = False
        await presences[1].start()
        await eventually(
            lambda: proxy.ready_nodes() == {second.address},
            AVOIDED_WITHIN_S,
            "a controller that is no longer ready takes its key away",
        )
        to_first, to_second = await calls_taken(cluster)
        assert to_second and not to_first
    finally:
        for presence in presences:
            await presence.close()


async def test_the_controller_withdraws_its_node_when_it_stops(cluster: Cluster) -> None:
    """`ivr311 run` with IVR311_PROXY_RPC_URL: ready → its key is set; SIGTERM (here the stop
    event) → the key is gone before the drain ends."""
    proxy = cluster.proxy
    node = cluster.nodes[0].address
    settings = load_settings(
        environ={},
        http_listen="127.0.0.1:0",
        drain_timeout_s=0.5,
        proxy_rpc_url=proxy.rpc_url,
        proxy_node=node,
        sim_call_interval_s=3600,
    )
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(settings, stop=stop, extensions=(), simulated=scripted_switch)
    )
    try:
        await eventually(lambda: proxy.ready_nodes() == {node}, 30, "the controller is ready")
        stop.set()
        await eventually(lambda: not proxy.ready_nodes(), AVOIDED_WITHIN_S, "node withdrawn")
        await asyncio.wait_for(server, 30)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.shield(server), 30)
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
