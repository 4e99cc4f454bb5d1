"""The simulated switch: Asterisk's behaviour, scripted calls and what happened, in one object.

`FakeSwitch` is what `switchsim.server.FakeAri` serves over ARI and what tests drive: its
jobs live in modules — `switchsim.asterisk` (Asterisk's behaviour: channels, bridges,
playbacks, originate outcomes, event order, error codes; the transfer context of the dialplan
in `switchsim.dialplan_transfer`), `switchsim.subscriptions` (applications subscribing to
channels), `switchsim.scripting` (placing calls, pressing keys, hanging up, scripting what
dialled destinations do) and `switchsim.inspection` (records, emitted events, waiting until
something happened).
"""

from __future__ import annotations

from switchsim.inspection import SwitchInspection
from switchsim.scripting import CallScripting
from switchsim.subscriptions import ApplicationSubscriptions


class FakeSwitch(CallScripting, ApplicationSubscriptions, SwitchInspection):
    """The model behind the fake ARI server; also the Python control API for tests.

    ``playback_s`` is how long each media URI plays unless ``media_durations`` names it;
    ``sound_exists`` (when given) says which sound files exist, so that a ``sound:`` media
    Asterisk would not find fails as in Asterisk (`switchsim.playbacks.sound_files`);
    ``default_outcome`` answers originates to endpoints no script names; ``event_log``
    False keeps no `events`; ``answer_before_stasis`` False simulates a dialplan that enters
    Stasis without answering the carrier's call first (the generated one answers).
    """
