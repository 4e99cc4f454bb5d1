"""A faithful in-process model of Asterisk's ARI, served over real HTTP and WebSocket.

`FakeAri` serves it on loopback; `FakeSwitch` is the model and the control API (place a call,
press keys, hang up, script what a dialled endpoint does, observe what happened, wait for it).
"""

from switchsim.objects import SwitchError
from switchsim.records import ChannelRecord, Outcome, PlayRecord
from switchsim.scripting import LOCATION_VARIABLE
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
