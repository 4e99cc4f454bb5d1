"""Scripting calls on the simulated switch: a carrier's call arriving, the people on the line
pressing keys and hanging up, what each dialled destination does, and Asterisk restarting."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from switchsim.asterisk import SimulatedAsterisk
from switchsim.objects import LOCATION_VARIABLE, FakeChannel, SwitchError, ari_timestamp
from switchsim.records import ChannelRecord, Outcome


class CallScripting(SimulatedAsterisk):
    """What the world outside Asterisk does: callers, their keys, destinations' answers."""

    def script_endpoint(self, endpoint: str, *outcomes: Outcome) -> None:
        """Script what the next originates to ``endpoint`` do, one outcome per originate.

        ``endpoint`` matches the originate's endpoint exactly (``PJSIP/+12895550101@trunk``) or
        its resource (``+12895550101``). The last outcome repeats for later originates.
        """
        if not outcomes:
            raise ValueError("script at least one outcome")
        self._scripts[endpoint] = deque(outcomes)

    def place_call(
        self,
        dialled: str = "311",
        calling: str = "9055550123",
        *,
        app: str = "ivr311",
        args: Sequence[str] | None = None,
        location: tuple[float, float] | None = None,
        variables: Mapping[str, str] | None = None,
        caller_name: str = "",
        channel_id: str | None = None,
        answered: bool | None = None,
    ) -> str:
        """An inbound call from the carrier reaching ``Stasis(app,inbound,DIALLED)``.

        ``answered``: whether the dialplan answered it before Stasis (``Up`` in StasisStart,
        recorded as answered; ``Ring`` otherwise); the switch's ``answer_before_stasis`` unless
        given. Returns the channel id. When the application is not connected, Stasis fails and
        the call goes to the dialplan fallback (recorded as ``stasis_failed``), as in Asterisk.
        """
        if answered is None:
            answered = self.answer_before_stasis
        n = next(self._ids)
        cid = channel_id or f"{self._epoch}.{n}"
        if cid in self.channels:
            raise SwitchError(409, "Channel with given unique ID already exists")
        app_args = tuple(args) if args is not None else ("inbound", dialled)
        record = ChannelRecord(
            channel_id=cid,
            direction="inbound",
            endpoint="PJSIP/carrier",
            dialled=dialled,
            calling=calling,
            app_args=app_args,
        )
        ch = FakeChannel(
            id=cid,
            name=f"PJSIP/carrier-{n:08x}",
            state="Up" if answered else "Ring",
            caller_number=calling,
            caller_name=caller_name,
            context="from-carrier",
            exten=dialled,
            record=record,
            created=ari_timestamp(),
        )
        ch.variables.update(variables or {})
        if location is not None:
            ch.variables[LOCATION_VARIABLE] = f"{location[0]},{location[1]}"
        self.channels[cid] = ch
        self.records[cid] = record
        self._note(ch, f"arrived dialled={dialled}")
        if answered:
            record.answered = True
            self._note(ch, "answered")
        if not self.app_connected(app):
            record.stasis_failed = True
            self._note(ch, "Stasis failed: application not connected, dialplan fallback")
        else:
            ch.subscribed_app = app
            ch.in_app = True
            ch.app_args = tuple(app_args)
            record.entered_app = True
            self._emit_channel(ch, "StasisStart", args=list(app_args))
        self._changed()
        return cid

    def press(self, channel_id: str, digits: str, *, duration_ms: int = 100) -> None:
        """The person on a channel presses keys: one ChannelDtmfReceived per digit."""
        self._far_end_presses(channel_id, digits, duration_ms)

    def destination_answers(self, channel_id: str, press: str = "1") -> None:
        """A destination leg still ringing (scripted ``ring``) answers now, then presses
        ``press`` when the first playback to it (the whisper) ends; a leg the dialplan dialled
        answers to the dialplan."""
        ch = self._channel(channel_id)
        outcome = Outcome(kind="answer", press=press)
        if ch.on_answer is not None:
            ch.on_answer(outcome)
            self._changed()
        else:
            self._settle(channel_id, outcome, ch.record.app_args)

    def hangup_caller(self, channel_id: str, cause: int = 16) -> None:
        """The far end of a channel hangs up (the caller, or the answered destination)."""
        self._far_end_hangs_up(channel_id, cause)

    def drop_all(self) -> None:
        """Asterisk restarted: every channel, bridge and playback vanishes, with no events."""
        for ch in list(self.channels.values()):
            for timer in ch.timers:
                timer.cancel()
            for pb in ch.playbacks:
                if pb.timer is not None:
                    pb.timer.cancel()
                if pb.record.state in ("queued", "playing"):
                    pb.record.state = "hangup"
            ch.record.destroyed = True
            ch.record.ringing = False
            ch.record.hung_up_by = ch.record.hung_up_by or "restart"
            self._note(ch, "lost: Asterisk restarted")
        self.channels.clear()
        self.bridges.clear()
        self.playbacks.clear()
        self.apps.clear()
        self._changed()
