"""A real Kamailio in front of SIPp nodes for this folder's tests. Without ``kamailio`` or
``sipp`` they skip, or fail when ``CI=true``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kamailio_testing import (
    NODE_IPS,
    Cluster,
    KamailioProxy,
    SippNode,
    required_binary,
)
from local_processes import free_port, wait_until


@pytest.fixture
def kamailio() -> str:
    return required_binary("kamailio", "kamailio")


@pytest.fixture
def sipp() -> str:
    return required_binary("sipp", "sip-tester")


@pytest.fixture
def node_scenarios() -> tuple[str, str]:
    """The SIPp scenario of each node (a test overrides it with ``parametrize``)."""
    return ("node.xml", "node.xml")


@pytest.fixture
def cluster(
    kamailio: str, sipp: str, tmp_path: Path, node_scenarios: tuple[str, str]
) -> Iterator[Cluster]:
    addresses = [f"{ip}:{free_port(ip)}" for ip in NODE_IPS[:2]]
    nodes = [
        SippNode(sipp, tmp_path, address, scenario)
        for address, scenario in zip(addresses, node_scenarios, strict=True)
    ]
    proxy = KamailioProxy.for_nodes(kamailio, tmp_path, addresses)
    try:
        for node in nodes:
            node.start()
        proxy.start()
        wait_until(lambda: proxy.active_nodes() == set(addresses), 10, "both nodes active")
        yield Cluster(proxy, nodes, sipp, tmp_path)
    finally:
        proxy.stop()
        for node in nodes:
            node.stop()
