"""The states of one call and the transitions allowed between them.

The transfer is split in sub-states: ``hold`` (the announcement plays, then the caller waits with
music on hold on their own channel, or hears ringing when the music cannot start, until bridged
or sent to the final message), ``ringing`` (a destination leg is dialled), ``whisper`` (it
answered and hears who is calling) and ``awaiting_accept`` (the rules ask it to press a key). A
failed link goes from ringing, whisper or awaiting_accept back to ringing for the next link, or
to ``message`` when the chain is exhausted.

Every transition is announced as a `Transition` to the call's observers (`ivr.call.observers`):
the log line, the decision record and the metrics are made from these, with typed details, so
nothing downstream parses text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from ivr.call.record import TransferAttempt
from routing_rules.decision import Decision, TransferKind, TransferTarget

if TYPE_CHECKING:
    from ivr.call.machine import Call


class CallState(StrEnum):
    ANSWERING = "answering"
    GREETING = "greeting"
    MENU = "menu"
    STATUS = "status"
    """The caller keys a request number and hears its status."""
    TRANSFER_HOLD = "transferring.hold"
    TRANSFER_RINGING = "transferring.ringing"
    TRANSFER_WHISPER = "transferring.whisper"
    TRANSFER_AWAITING_ACCEPT = "transferring.awaiting_accept"
    BRIDGED = "bridged"
    MESSAGE = "message"
    ENDED = "ended"


_S = CallState
_AFTER_DECISION = frozenset({_S.MENU, _S.STATUS, _S.TRANSFER_HOLD, _S.MESSAGE, _S.ENDED})
_NEXT_LINK = frozenset({_S.TRANSFER_RINGING, _S.MESSAGE, _S.ENDED})

TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    _S.ANSWERING: _AFTER_DECISION | {_S.GREETING},
    _S.GREETING: _AFTER_DECISION,
    _S.MENU: _AFTER_DECISION,
    _S.STATUS: _AFTER_DECISION - {_S.STATUS},
    _S.TRANSFER_HOLD: _NEXT_LINK,
    _S.TRANSFER_RINGING: _NEXT_LINK | {_S.TRANSFER_WHISPER},
    _S.TRANSFER_WHISPER: _NEXT_LINK | {_S.TRANSFER_AWAITING_ACCEPT, _S.BRIDGED},
    _S.TRANSFER_AWAITING_ACCEPT: _NEXT_LINK | {_S.BRIDGED},
    _S.BRIDGED: frozenset({_S.ENDED}),
    _S.MESSAGE: frozenset({_S.ENDED}),
    _S.ENDED: frozenset(),
}
"""state -> the states it may go to; anything else is a bug (`IllegalTransition`)."""

TRANSFERRING = frozenset(
    {_S.TRANSFER_HOLD, _S.TRANSFER_RINGING, _S.TRANSFER_WHISPER, _S.TRANSFER_AWAITING_ACCEPT}
)


class IllegalTransition(RuntimeError):
    """The call tried a transition the table does not allow."""

    def __init__(self, current: CallState, wanted: CallState) -> None:
        super().__init__(f"no transition from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


def check_transition(current: CallState, wanted: CallState) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)


@dataclass(frozen=True)
class Ending:
    """How a call ended: ``kind`` (completed, caller_hangup, left_application, message,
    handed_back, lost_on_reconnect) and, for handed_back, the reason."""

    kind: str
    handed_back_for: str | None = None

    @classmethod
    def handed_back(cls, reason: str) -> Ending:
        return cls("handed_back", reason)

    def __str__(self) -> str:
        """The decision record's ``outcome``: the kind, ``handed_back:REASON``."""
        if self.handed_back_for is None:
            return self.kind
        return f"{self.kind}:{self.handed_back_for}"


COMPLETED = Ending("completed")
CALLER_HANGUP = Ending("caller_hangup")
LEFT_APPLICATION = Ending("left_application")
MESSAGE_PLAYED = Ending("message")
LOST_ON_RECONNECT = Ending("lost_on_reconnect")
"""Asterisk no longer held the caller when the controller reconnected (it restarted, or the
caller left while the event socket was down): whatever the call was doing, it was cut."""


@dataclass(frozen=True)
class Link:
    """A link of a transfer's fallback chain: ``index`` 0 is the first destination."""

    kind: TransferKind
    index: int
    target: TransferTarget


@dataclass(frozen=True)
class KeyPress:
    """What the caller's key did in the greeting or a menu (``digit`` "" for a menu timeout)."""

    where: Literal["greeting", "menu"]
    digit: str
    meaning: Literal["skip", "agent", "language", "status", "choice", "invalid", "timeout"]


@dataclass(frozen=True)
class StatusChecked:
    """A service-request status check ended with ``result`` (a `StatusResult` value) on
    ``owner``'s Open311 server."""

    owner: str
    result: str


@dataclass(frozen=True)
class HoldMusicFailed:
    """Music on hold could not start; the caller heard ``fallback`` (ringing, none) instead."""

    fallback: Literal["ringing", "none"]


Fact = KeyPress | TransferAttempt | HoldMusicFailed | StatusChecked
"""Something that happened in a state, told with the transition that leaves it."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state of a call, as its observers see it."""

    call: Call
    source: CallState
    target: CallState
    at: float
    """`time.monotonic` of the change."""
    since: float
    """When the call entered ``source``."""
    why: str
    decision: Decision | None = None
    """The engine's decision this transition starts carrying out."""
    link: Link | None = None
    """The link dialled (ringing), answered (whisper, awaiting_accept) or connected (bridged)."""
    facts: tuple[Fact, ...] = ()
    ending: Ending | None = None
    """Into ``ended``: how (a call that was bridged is completed, whoever hung up)."""
