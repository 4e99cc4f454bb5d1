"""A steady load of carrier calls, read back call by call from SIPp's message trace.

`start_load` plays ``carrier_hold.xml`` from the carrier's address at a fixed rate; once SIPp
has finished, `CarrierLoad.outcomes` says for each call when its INVITE left, which node (by
SIP port, from the answer's Contact) answered it and whether it ended as the scenario says
(answered, held, hung up with the BYE answered). That is what separates the calls started
before a fault from those started after it, and the calls lost with a node from those that
merely failed.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sipp_testing import SCENARIOS, SippParty, sipp

_MESSAGE_HEAD = re.compile(
    r"^-{10,}\s+(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+).*\n(\w+) message (sent|received)",
    re.MULTILINE,
)
_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_CSEQ = re.compile(r"^CSeq:\s*(\d+)\s+(\w+)", re.IGNORECASE | re.MULTILINE)
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
        answered: dict[str, int | None] = {}
        completed: set[str] = set()
        for head, message in _messages(self.party.trace()):
            at, direction = head
            body = message.lstrip()
            call = _CALL_ID.search(body)
            cseq = _CSEQ.search(body)
            if call is None or cseq is None:
                continue
            call_id, method = call.group(1), cseq.group(2).upper()
            if direction == "sent" and body.startswith("INVITE ") and cseq.group(1) == "1":
                started.setdefault(call_id, at)
                answered.setdefault(call_id, None)
            elif direction == "received" and body.startswith("SIP/2.0 200") and method == "INVITE":
                if cseq.group(1) == "1" and (port := _CONTACT_PORT.search(body)):
                    answered[call_id] = int(port.group(1))
            elif body.startswith("SIP/2.0 200") and method == "BYE":
                completed.add(call_id)  # our hang-up answered, or the node's answered by us
        return sorted(
            (CallOutcome(c, started[c], answered[c], c in completed) for c in started),
            key=lambda outcome: outcome.started,
        )


def _messages(trace: str) -> list[tuple[tuple[float, str], str]]:
    """((time, "sent" or "received"), SIP message) for each message of a SIPp trace."""
    heads = list(_MESSAGE_HEAD.finditer(trace))
    messages: list[tuple[tuple[float, str], str]] = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(trace)
        moment = datetime.strptime(f"{head.group(1)} {head.group(2)}", "%Y-%m-%d %H:%M:%S.%f")
        body = trace[head.end() : end].partition("\n")[2]
        messages.append(((moment.timestamp(), head.group(4)), body))
    return messages


def start_load(
    work: Path,
    *,
    target: str,
    local_ip: str,
    local_port: int,
    calling: str,
    calls: int,
    rate_per_s: int,
    hold_ms: int,
    name: str = "load",
    timeout_s: int = 120,
) -> CarrierLoad:
    """``calls`` calls to 311 at ``target`` (ADDRESS:PORT), ``rate_per_s`` a second from
    ``local_ip``, each held ``hold_ms`` after it is answered."""
    binary = sipp()
    assert binary is not None
    text = (SCENARIOS / "carrier_hold.xml").read_text(encoding="utf-8")
    scenario = work / f"{name}.xml"
    scenario.write_text(text.replace("HOLD_MS", str(hold_ms)), encoding="utf-8")
    messages = work / f"{name}-messages.log"
    output = work / f"{name}-output.log"
    command = [binary, target, "-sf", str(scenario), "-i", local_ip, "-p", str(local_port)]
    command += ["-s", "311", "-key", "caller", calling, "-m", str(calls)]
    command += ["-r", str(rate_per_s), "-l", str(calls), "-nostdin"]
    command += ["-trace_msg", "-message_file", str(messages)]
    command += ["-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", "20000"]
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return CarrierLoad(SippParty(process, messages, output))
