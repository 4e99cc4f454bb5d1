"""A faithful in-process model of Asterisk's ARI, served over real HTTP and WebSocket.

`FakeAri` serves it on loopback; `FakeSwitch` is the model and the control API (place a call,
press keys, hang up, script what a dialled endpoint does, observe what happened, wait for it).
"""

from ivr.fakeari.records import ChannelRecord, Outcome, PlayRecord
from ivr.fakeari.server import FakeAri, RequestRecord
from ivr.fakeari.switch import LOCATION_VARIABLE, FakeSwitch, SwitchError

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
