"""One state machine per call: greeting, menus, warm transfer down a fallback chain, the end.

`Call` is the machine, `CallState` and `TRANSITIONS` its states and transition table,
`DecisionRecord` what each call leaves in the log.
"""

from ivr.call.machine import (
    LOCATION_VARIABLE,
    PROMPTS_BEFORE_TRANSFER,
    TRANSFER_ARG,
    Call,
    CallEnvironment,
    CallSettings,
    playback_id,
)
from ivr.call.record import DecisionRecord
from ivr.call.states import TRANSITIONS, CallState, IllegalTransition

__all__ = [
    "LOCATION_VARIABLE",
    "PROMPTS_BEFORE_TRANSFER",
    "TRANSFER_ARG",
    "TRANSITIONS",
    "Call",
    "CallEnvironment",
    "CallSettings",
    "CallState",
    "DecisionRecord",
    "IllegalTransition",
    "playback_id",
]
