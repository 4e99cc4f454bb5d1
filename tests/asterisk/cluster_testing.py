"""Several Asterisk nodes on loopback, each with its own ``ivr311 run``, sharing one rule store.

Each node has its own directories, SIP and HTTP ports and system name (``nodeN``, which
prefixes its channel ids, so calls of different nodes never share an id); every node dials the
contact centres on the same address and port, so one SIPp contact centre takes the transfers
of every node. Each controller has its own HTTP port and log (``work/node-N/controller-N.log``)
and, when asked, reaches its node's ARI through an `AriProxy` that can cut its event socket.
The store is one SQLite file by default (the first controller seeds it, the others find it
seeded); a PostgreSQL URL can be given instead. `running_cluster` starts everything and stops
it all, controllers first, whatever happens in the block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ari_proxy import AriProxy
from asterisk_testing import AsteriskNode, new_node
from controller_testing import ControllerProcess, start_controller
from local_processes import free_port

from routing_rules.snapshot import RuleSnapshot


@dataclass
class Member:
    """One node of the cluster and the controller that serves it."""

    index: int
    node: AsteriskNode
    controller: ControllerProcess
    proxy: AriProxy | None = None

    @property
    def sip_address(self) -> str:
        """Where a carrier (or a dispatcher) sends this node's calls."""
        return f"127.0.0.1:{self.node.sip_port}"


@dataclass
class Cluster:
    """The running members; ``contact_centre_port`` is the one port every node dials."""

    work: Path
    contact_centre_port: int
    database_url: str
    members: list[Member] = field(default_factory=list)

    def __getitem__(self, index: int) -> Member:
        return self.members[index]

    def __len__(self) -> int:
        return len(self.members)


@contextlib.contextmanager
def running_cluster(
    binary: str,
    work: Path,
    rules: Path,
    snapshot: RuleSnapshot,
    *,
    count: int = 2,
    settings: Mapping[str, str] | None = None,
    database_url: str | None = None,
    proxied: bool = False,
) -> Iterator[Cluster]:
    """``count`` nodes rendered from ``snapshot`` (their dialplan too), each with a controller
    seeded from the rule file ``rules`` and started with ``settings``; with ``proxied`` each
    controller reaches its ARI through its own `AriProxy`."""
    cluster = Cluster(
        work=work,
        contact_centre_port=free_port(),
        database_url=database_url or f"sqlite:///{work / 'rules.db'}",
    )
    with contextlib.ExitStack() as stack:
        for index in range(count):
            root = work / f"node-{index}"
            node = new_node(
                binary,
                root,
                contact_centre_port=cluster.contact_centre_port,
                system_name=f"node{index}",
            )
            node.render(snapshot)
            stack.callback(node.stop)
            node.start()
            proxy: AriProxy | None = None
            if proxied:
                proxy = AriProxy(node.http_port).start()
                stack.callback(proxy.close)
            controller = start_controller(
                node,
                root,
                rules,
                {"IVR311_DATABASE_URL": cluster.database_url, **(settings or {})},
                name=f"controller-{index}",
                ari_url=proxy.url if proxy is not None else None,
            )
            stack.callback(controller.stop)
            cluster.members.append(Member(index, node, controller, proxy))
        yield cluster
