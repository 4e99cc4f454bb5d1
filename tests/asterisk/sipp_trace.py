"""SIPp's message trace (``-trace_msg``) read back as SIP messages, each with when it was
sent or received, for the tests and benchmarks that follow calls through SIPp."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MESSAGE_HEAD = re.compile(
    r"^-{10,}\s+(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+).*\n(\w+) message (sent|received)",
    re.MULTILINE,
)
_CSEQ = re.compile(r"^\s*(\d+)\s+(\w+)")


@dataclass(frozen=True)
class TracedMessage:
    at: float
    """Epoch seconds (the machine's clock) at which SIPp sent or received it."""
    sent: bool
    """Sent by SIPp (False: received)."""
    text: str
    """The SIP message, from its first line."""

    def header(self, name: str) -> str:
        """The value of the first ``name`` header ("" without one)."""
        prefix = name.lower() + ":"
        for line in self.text.splitlines():
            if line.lower().startswith(prefix):
                return line.split(":", 1)[1].strip()
        return ""

    @property
    def call_id(self) -> str:
        return self.header("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """The CSeq's number and method (upper case); (0, "") without one."""
        found = _CSEQ.match(self.header("CSeq"))
        return (int(found.group(1)), found.group(2).upper()) if found else (0, "")

    @property
    def calling_number(self) -> str:
        """The last ten digits of the From header's user part."""
        user = self.header("From").split("sip:", 1)[-1].split("@", 1)[0]
        return "".join(c for c in user if c.isdigit())[-10:]

    def is_answer_to(self, method: str) -> bool:
        """A 200 OK answering ``method``."""
        return self.text.startswith("SIP/2.0 200") and self.cseq[1] == method


def trace_messages(trace: str) -> list[TracedMessage]:
    """Each SIP message of a SIPp message trace, in the trace's order."""
    heads = list(_MESSAGE_HEAD.finditer(trace))
    messages: list[TracedMessage] = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(trace)
        moment = datetime.strptime(f"{head.group(1)} {head.group(2)}", "%Y-%m-%d %H:%M:%S.%f")
        body = trace[head.end() : end].partition("\n")[2].strip()
        messages.append(TracedMessage(moment.timestamp(), head.group(4) == "sent", body))
    return messages
