"""Asterisk's behaviour: channels, bridges, playbacks, applications and the REST calls on them.

Every operation is synchronous and runs on the event loop, so the events it emits are in one
order, the order Asterisk sends them in (checked against Asterisk 22's res/ari and res_stasis):
a hang-up is ChannelHangupRequest, PlaybackFinished, ChannelLeftBridge, StasisEnd,
ChannelDestroyed; an originated leg that fails never gets StasisStart, only ChannelDestroyed
with its Q.850 cause. Durations (playbacks, originate outcomes) run on the asyncio clock.
REST errors are raised as `SwitchError` with Asterisk's status codes. A channel continued to the
dialplan's transfer context runs it (`switchsim.dialplan_transfer`); an event about a channel
goes to its application and to those subscribed to it (`switchsim.subscriptions`).

`SimulatedAsterisk` is made of one module per job: the objects it keeps and the events it sends
(`switchsim.asterisk_state`), applications (`switchsim.applications`), a channel's own
operations (`switchsim.channels`), bridges (`switchsim.bridges`), the continue to the dialplan
(`switchsim.dialplan_continue`), playbacks (`switchsim.playbacks`), hang-ups
(`switchsim.hangups`) and originated legs (`switchsim.originate`); the ``/asterisk`` resource
is here.
"""

from __future__ import annotations

from typing import Any

from switchsim.objects import SwitchError, ari_timestamp
from switchsim.originate import Originate


class SimulatedAsterisk(Originate):
    """Channels, bridges, playbacks and applications, and the REST operations on them."""

    def ping(self) -> dict[str, Any]:
        return {"asterisk_id": self.asterisk_id, "ping": "pong", "timestamp": ari_timestamp()}

    def reload_module(self, name: str) -> None:
        """``PUT /asterisk/modules/{name}``: 404 when the module is not loaded."""
        if name.removesuffix(".so") not in self.loaded_modules:
            raise SwitchError(404, "Module not found in running modules")
        self.module_reloads.append(name)
        self._changed()
