"""A steady load of carrier calls, read back call by call from SIPp's message trace, and the
nodes of a cluster behind a real Kamailio.

`start_load` plays ``carrier_hold.xml`` from the carrier's address at a fixed rate; once SIPp
has finished, `CarrierLoad.outcomes` says for each call when its INVITE left, which node (by
SIP port, from the answer's Contact) answered it and whether it ended as the scenario says
(answered, held, hung up with the BYE answered). That is what separates the calls started
before a fault from those started after it, and the calls lost with a node from those that
merely failed. `behind_kamailio` puts a running cluster behind a Kamailio rendered by
``kamailio-conf render``, each controller keeping its node ready there.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asterisk_testing import ACCEPT_KEY, AsteriskNode
from cluster_testing import Cluster
from sipp_testing import SCENARIOS, SippParty, sipp, start_contact_centres
from sipp_trace import trace_messages

# The Kamailio tests' helpers (KamailioProxy), for the nodes behind a real Kamailio.
sys.path.append(str(Path(__file__).resolve().parents[1] / "kamailio"))
from kamailio_testing import KamailioProxy
from local_processes import free_port, wait_until

_CONTACT_PORT = re.compile(
    r"^Contact:\s*<sip:(?:[^@>]*@)?[\d.]+:(\d+)", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class CallOutcome:
    call_id: str
    started: float
    """When the INVITE first left the carrier (epoch seconds, the machine's clock)."""
    answered_by: int | None
    """The SIP port of the node that answered (its 200 OK's Contact); None when none did."""
    answered_at: float | None
    """When the answer (200 OK) reached the carrier."""
    completed: bool
    """Answered, held and hung up, the BYE answered: nothing went wrong for this caller."""


@dataclass
class CarrierLoad:
    party: SippParty

    def wait(self, timeout_s: float) -> int:
        return self.party.wait(timeout_s)

    def kill(self) -> None:
        self.party.kill()

    def outcomes(self) -> list[CallOutcome]:
        """Every call SIPp placed, in the order their INVITEs left."""
        started: dict[str, float] = {}
        answered: dict[str, tuple[int, float]] = {}
        completed: set[str] = set()
        for message in trace_messages(self.party.trace()):
            call_id, (number, method) = message.call_id, message.cseq
            if not call_id or not method:
                continue
            if message.sent and message.text.startswith("INVITE ") and number == 1:
                started.setdefault(call_id, message.at)
            elif not message.sent and message.is_answer_to("INVITE"):
                if number == 1 and (port := _CONTACT_PORT.search(message.text)):
                    answered.setdefault(call_id, (int(port.group(1)), message.at))
            elif message.is_answer_to("BYE"):
                completed.add(call_id)  # our hang-up answered, or the node's answered by us
        outcomes = [
            CallOutcome(call_id, at, *answered.get(call_id, (None, None)), call_id in completed)
            for call_id, at in started.items()
        ]
        return sorted(outcomes, key=lambda outcome: outcome.started)


def start_load(
    work: Path,
    *,
    target: str,
    local_ip: str,
    calling: str,
    calls: int,
    rate_per_s: int,
    hold_ms: int,
    name: str = "load",
    timeout_s: int = 120,
) -> CarrierLoad:
    """``calls`` calls to 311 at ``target`` (ADDRESS:PORT), ``rate_per_s`` a second from
    ``local_ip`` (on a free port), each held ``hold_ms`` after it is answered."""
    binary = sipp()
    assert binary is not None
    text = (SCENARIOS / "carrier_hold.xml").read_text(encoding="utf-8")
    scenario = work / f"{name}.xml"
    scenario.write_text(text.replace("HOLD_MS", str(hold_ms)), encoding="utf-8")
    messages = work / f"{name}-messages.log"
    output = work / f"{name}-output.log"
    command = [binary, target, "-sf", str(scenario), "-i", local_ip, "-p", str(free_port(local_ip))]
    command += ["-s", "311", "-key", "caller", calling, "-m", str(calls)]
    command += ["-r", str(rate_per_s), "-l", str(calls), "-nostdin"]
    command += ["-trace_msg", "-message_file", str(messages)]
    command += ["-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", "20000"]
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return CarrierLoad(SippParty(process, messages, output))


def start_answered_load(
    work: Path,
    centres_on: AsteriskNode,
    *,
    target: str,
    local_ip: str,
    calling: str,
    calls: int,
    rate_per_s: int,
    hold_ms: int,
    name: str = "load",
    centres_name: str = "centres",
) -> tuple[SippParty, CarrierLoad]:
    """Contact centres on ``centres_on``'s trunk taking every call (the accept key 1.5 s after
    answering), then `start_load` with the same calls; the caller kills both."""
    centres = start_contact_centres(
        centres_on, work, calls=calls, steps=(1500, ACCEPT_KEY), name=centres_name
    )
    try:
        load = start_load(
            work,
            target=target,
            local_ip=local_ip,
            calling=calling,
            calls=calls,
            rate_per_s=rate_per_s,
            hold_ms=hold_ms,
            name=name,
        )
    except BaseException:
        centres.kill()
        raise
    return centres, load


@contextlib.contextmanager
def behind_kamailio(cluster: Cluster, binary: str, work: Path) -> Iterator[KamailioProxy]:
    """A Kamailio in ``work`` dispatching to every node of ``cluster``, each controller
    restarted to keep its node ready there; yields once every node is active and ready, and
    stops Kamailio at the end of the block."""
    addresses = [member.sip_address for member in cluster.members]
    work.mkdir(parents=True, exist_ok=True)
    proxy = KamailioProxy.for_nodes(binary, work, addresses)
    try:
        proxy.start()
        for member in cluster.members:
            member.controller.env["IVR311_PROXY_RPC_URL"] = proxy.rpc_url
            member.controller.env["IVR311_PROXY_NODE"] = member.sip_address
            member.controller.restart()
        wait_until(
            lambda: proxy.active_nodes() == proxy.ready_nodes() == set(addresses),
            15,
            "every node active and ready at Kamailio",
        )
        yield proxy
    finally:
        proxy.stop()
