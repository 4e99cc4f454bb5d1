"""The states of one call and the transitions allowed between them.

The transfer is split in sub-states: ``hold`` (the announcement plays, then the caller waits in a
holding bridge with music, or hears ringing when the music cannot start, until bridged or sent
to the final message), ``ringing`` (a destination leg is dialled), ``whisper`` (it answered and
hears who is calling) and ``awaiting_accept`` (the rules ask it to press a key). A failed
link goes from ringing, whisper or awaiting_accept back to ringing for the next link, or to
``message`` when the chain is exhausted.
"""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    ANSWERING = "answering"
    GREETING = "greeting"
    MENU = "menu"
    TRANSFER_HOLD = "transferring.hold"
    TRANSFER_RINGING = "transferring.ringing"
    TRANSFER_WHISPER = "transferring.whisper"
    TRANSFER_AWAITING_ACCEPT = "transferring.awaiting_accept"
    BRIDGED = "bridged"
    MESSAGE = "message"
    ENDED = "ended"


_S = CallState
_AFTER_DECISION = frozenset({_S.MENU, _S.TRANSFER_HOLD, _S.MESSAGE, _S.ENDED})
_NEXT_LINK = frozenset({_S.TRANSFER_RINGING, _S.MESSAGE, _S.ENDED})

TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    _S.ANSWERING: _AFTER_DECISION | {_S.GREETING},
    _S.GREETING: _AFTER_DECISION,
    _S.MENU: _AFTER_DECISION,
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
