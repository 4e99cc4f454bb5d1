"""A real Asterisk for this directory's tests, and two nodes with a controller each (also behind
a real Kamailio); they skip when no asterisk binary (or, for the nodes with controllers, no
sipp, and for Kamailio no kamailio) is found."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_testing import AsteriskNode, new_node, open_durham_rules
from cluster_testing import Cluster, running_cluster
from load_testing import KamailioProxy, behind_kamailio
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


@pytest.fixture
def proxied_nodes(tmp_path: Path) -> Iterator[tuple[Cluster, KamailioProxy]]:
    """Two nodes as `two_nodes` (without the ARI proxies) behind a real Kamailio rendered by
    ``kamailio-conf render``, each controller keeping its node ready there; both nodes are
    active and ready when the test begins. Per test: the fault tests kill parts of it."""
    binary = shutil.which("asterisk")
    if binary is None:
        pytest.skip("no asterisk binary")
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    kamailio = shutil.which("kamailio")
    if kamailio is None:
        pytest.skip("no kamailio binary (Debian: kamailio)")
    rules, snapshot = open_durham_rules(tmp_path)
    with (
        running_cluster(binary, tmp_path, rules, snapshot, settings=CLUSTER_SETTINGS) as cluster,
        behind_kamailio(cluster, kamailio, tmp_path / "kamailio") as proxy,
    ):
        yield cluster, proxy
