"""The transition table of a call: what each state may go to, and nothing else."""

from __future__ import annotations

import itertools

import pytest

from ivr.call import TRANSITIONS, CallState, IllegalTransition
from ivr.call.states import check_transition

S = CallState
AFTER_A_DECISION = {S.MENU, S.STATUS, S.TRANSFER_HOLD, S.MESSAGE, S.ENDED}
"""Where a decision of the engine (after the answer, the greeting, a menu or a status check)
may lead."""
NEXT_LINK = {S.TRANSFER_RINGING, S.MESSAGE, S.ENDED}
"""Where a transfer goes when a link fails: the next link, the final message; or the caller
hangs up."""

ALLOWED: dict[CallState, set[CallState]] = {
    S.ANSWERING: AFTER_A_DECISION | {S.GREETING},
    S.GREETING: AFTER_A_DECISION,
    S.MENU: AFTER_A_DECISION,
    S.STATUS: AFTER_A_DECISION - {S.STATUS},
    S.TRANSFER_HOLD: NEXT_LINK,
    S.TRANSFER_RINGING: NEXT_LINK | {S.TRANSFER_WHISPER},
    S.TRANSFER_WHISPER: NEXT_LINK | {S.TRANSFER_AWAITING_ACCEPT, S.BRIDGED},
    S.TRANSFER_AWAITING_ACCEPT: NEXT_LINK | {S.BRIDGED},
    S.BRIDGED: {S.ENDED},
    S.MESSAGE: {S.ENDED},
    S.ENDED: set(),
}

PAIRS = list(itertools.product(CallState, CallState))


@pytest.mark.parametrize(
    ("source", "target"), [(a, b) for a, b in PAIRS if b in ALLOWED[a]], ids=str
)
def test_every_allowed_transition_is_accepted(source: CallState, target: CallState) -> None:
    check_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"), [(a, b) for a, b in PAIRS if b not in ALLOWED[a]], ids=str
)
def test_any_other_transition_is_illegal_and_says_which(
    source: CallState, target: CallState
) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition(source, target)
    assert (raised.value.current, raised.value.wanted) == (source, target)
    assert str(raised.value) == f"no transition from {source} to {target}"


def test_the_table_is_the_one_the_calls_follow() -> None:
    assert {state: set(targets) for state, targets in TRANSITIONS.items()} == ALLOWED


def test_a_caller_can_hang_up_in_every_state_and_nothing_follows_the_end() -> None:
    assert all(S.ENDED in TRANSITIONS[state] for state in CallState if state is not S.ENDED)
    assert not TRANSITIONS[S.ENDED]


def test_every_state_is_reachable_from_the_answer() -> None:
    reached, frontier = {S.ANSWERING}, [S.ANSWERING]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(CallState)
