"""The simulated switch: a faithful model of Asterisk's ARI over real HTTP and WebSocket,
scripted calls, and what happened. Not part of the product: the tests, ``ivr311 run`` with no
Asterisk configured, ``ivr311 demo`` and the benchmarks use it; it imports ``ivr`` (to drive a
controller), never the other way round.

- `switchsim.server` — `FakeAri`: the ARI REST routes and event WebSocket on loopback, plus the
  ``/_fake/`` HTTP control API; ``python -m switchsim`` serves it on its own. The REST
  resources and their route table are in `switchsim.ari_rest`; requests made on the event
  WebSocket (Asterisk 22.4+) are read and answered by `switchsim.socket_requests`.
- `switchsim.switch` — `FakeSwitch`, the model and its Python control API, made of
  `switchsim.asterisk` (Asterisk's behaviour: channels, bridges, playbacks, originate
  outcomes, event order, error codes; one module per job, listed there; the objects it keeps
  are in `switchsim.objects`),
  `switchsim.dialplan_transfer` (the dialplan's transfer context, for a caller continued
  there), `switchsim.subscriptions` (applications subscribing to channels),
  `switchsim.scripting` (placing calls, pressing keys, hanging up, scripting what a dialled
  destination does) and `switchsim.inspection` (records, events, waiting until something
  happened); `switchsim.records` holds the records and the scripted `Outcome`.
- `switchsim.traffic` — scripted callers (`ScriptedCall`), a steady stream of them, and
  which prompts a caller heard, in which language (`prompts_heard`).
- `switchsim.simulation` — a controller connected to a fresh simulated switch.
- `switchsim.demo` and `switchsim.commands` — ``ivr311 demo``, and the scripted switch
  ``ivr311 run`` uses with no Asterisk configured.
- `switchsim.nodes` and `switchsim.postgres` — several ``ivr311 run`` processes on simulated
  switches sharing one rule store, and a private PostgreSQL server that can be stopped: the
  multi-node tests and benchmark.
"""

from switchsim.objects import LOCATION_VARIABLE, SwitchError
from switchsim.records import ChannelRecord, Outcome, PlayRecord
from switchsim.server import FakeAri, RequestRecord
from switchsim.switch import FakeSwitch

__all__ = [
    "LOCATION_VARIABLE",
    "ChannelRecord",
    "FakeAri",
    "FakeSwitch",
    "Outcome",
    "PlayRecord",
    "RequestRecord",
    "SwitchError",
]
