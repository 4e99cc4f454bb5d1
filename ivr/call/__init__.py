"""One call: its state machine, its flow, and what its transitions feed.

- `machine`: `Call` (state, events and timers in, what its flow uses); `environment`: what it
  uses from the controller;
- `intake`: what each ARI event means for the flow; `entry`: the flow a call begins with,
  answered or taken over; `course`: the engine's decisions carried out, phase by phase;
- `states`: `CallState`, the transition table `TRANSITIONS`, `IllegalTransition`, and the
  `Transition` events observers receive;
- `flow`: how the call's flow waits for what happens to the call, one event at a time;
- `phases`: the greeting, a menu, a message; `transfer`: the warm transfer down the chain;
- `resources`: what a call holds on the switch; `ids`: the ids it gives them (which the
  controller's reconcile reads too); `timers`: the call's timers on an injectable scheduler;
- `observers`: the log line, the decision record (`record`) and the metrics, fed by
  transitions; `persistor`: the call's state saved on its caller's channel at transitions, so
  a restarted controller takes the call over (`Call.take_over`).
"""

from dialplan.names import STATE_VARIABLE
from ivr.call import ids
from ivr.call.environment import CallEnvironment, CallSettings
from ivr.call.ids import PROMPTS_BEFORE_TRANSFER, TRANSFER_ARG
from ivr.call.machine import Call
from ivr.call.observers import standard_observers
from ivr.call.persistor import SavedCall, StatePersistor
from ivr.call.phases import LOCATION_VARIABLE
from ivr.call.record import DecisionRecord, evidence_of
from ivr.call.states import TRANSITIONS, CallState, IllegalTransition, Transition
from ivr.call.timers import LoopScheduler, Scheduler
from ivr.call.transfer import TransferResume

__all__ = [
    "LOCATION_VARIABLE",
    "PROMPTS_BEFORE_TRANSFER",
    "STATE_VARIABLE",
    "TRANSFER_ARG",
    "TRANSITIONS",
    "Call",
    "CallEnvironment",
    "CallSettings",
    "CallState",
    "DecisionRecord",
    "IllegalTransition",
    "LoopScheduler",
    "SavedCall",
    "Scheduler",
    "StatePersistor",
    "TransferResume",
    "Transition",
    "evidence_of",
    "ids",
    "standard_observers",
]
