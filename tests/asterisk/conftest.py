"""A real Asterisk for this directory's tests, and two nodes with a controller each; they skip
when no asterisk binary (or, for the nodes with controllers, no sipp) is found."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_testing import AsteriskNode, new_node, open_durham_rules
from cluster_testing import Cluster, running_cluster
from sipp_testing import sipp

from routing_rules.snapshot import load_snapshot


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskNode]:
    binary = shutil.which("asterisk")
    if binary is None:
        pytest.skip("no asterisk binary")
    root: Path = tmp_path_factory.mktemp("asterisk")
    asterisk = new_node(binary, root)
    asterisk.render(load_snapshot("durham"))
    asterisk.start()
    try:
        yield asterisk
    finally:
        asterisk.stop()


CLUSTER_SETTINGS = {
    "IVR311_ACCEPT_TIMEOUT_S": "8",
    "IVR311_RECONNECT_INITIAL_S": "0.2",
    "IVR311_RECONNECT_MAX_S": "1",
}


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes on the Durham rules open around the clock, each with its controller behind
    its own `AriProxy`, one SQLite rule store, one contact-centre port for both."""
    binary = shutil.which("asterisk")
    if binary is None:
        pytest.skip("no asterisk binary")
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    work: Path = tmp_path_factory.mktemp("cluster")
    rules, snapshot = open_durham_rules(work)
    with running_cluster(
        binary, work, rules, snapshot, settings=CLUSTER_SETTINGS, proxied=True
    ) as cluster:
        yield cluster
