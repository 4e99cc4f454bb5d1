"""A channel's own REST operations on the simulated Asterisk (answer, ringing, variables, music
on hold) and the keys the person on it presses."""

from __future__ import annotations

from typing import Any

from switchsim.asterisk_state import AsteriskState
from switchsim.objects import SwitchError


class ChannelOperations(AsteriskState):
    """``/channels/{id}`` requests that act on the channel alone, and its far end's keys."""

    def _far_end_presses(self, channel_id: str, digits: str, duration_ms: int = 100) -> None:
        ch = self._channel(channel_id)
        for digit in digits:
            ch.record.dtmf += digit
            self._note(ch, f"dtmf {digit}")
            self._emit_channel(ch, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms)
        if ch.on_dtmf is not None:
            ch.on_dtmf(digits)
        self._changed()

    def get_channel(self, channel_id: str) -> dict[str, Any]:
        return self._channel(channel_id).snapshot()

    def answer(self, channel_id: str) -> None:
        """As Asterisk's ``ast_raw_answer``: a channel already ``Up`` (answered by the
        dialplan) stays as it is, no event, and the request succeeds."""
        ch = self._stasis_channel(channel_id)
        if ch.state == "Up":
            return
        ch.state = "Up"
        ch.record.answered = True
        ch.record.ringing = False  # the far end stops its ringback on the answer
        self._note(ch, "answered")
        self._emit_channel(ch, "ChannelStateChange")
        self._changed()

    def ring(self, channel_id: str) -> None:
        """Indicate ringing: ringback before the answer, a ringing tone Asterisk generates on
        an answered channel. It lasts until `ring_stop`, also in a bridge and after the channel
        leaves the application (as Asterisk's tone generator does). Asterisk's 412 is for an
        unanswered outbound channel inside the application (``/channels/create``); an
        originated leg enters the application only when it answers, so it is 409 before."""
        ch = self._stasis_channel(channel_id)
        ch.record.rang = True
        ch.record.ringing = True
        self._note(ch, "ringing")
        self._changed()

    def ring_stop(self, channel_id: str) -> None:
        ch = self._stasis_channel(channel_id)
        if ch.record.ringing:
            ch.record.ringing = False
            self._note(ch, "ringing stopped")
        self._changed()

    def get_variable(self, channel_id: str, name: str) -> dict[str, Any]:
        ch = self._channel(channel_id)
        if not name:
            raise SwitchError(400, "Variable name is required")
        if name not in ch.variables:
            raise SwitchError(404, "Provided variable was not found")
        return {"value": ch.variables[name]}

    def set_variable(self, channel_id: str, name: str, value: str) -> None:
        if not name:
            raise SwitchError(400, "Variable name is required")
        ch = self._stasis_channel(channel_id)
        ch.variables[name] = value
        self._note(ch, f"set {name}")
        self._changed()

    def channel_moh(self, channel_id: str, moh_class: str | None, on: bool) -> None:
        """Music on hold on the channel itself, as Asterisk's channel generator: it replaces a
        ringing tone the channel hears (one generator at a time), it stays on when the channel
        joins a bridge (the channel then hears the music, nothing of the bridge), and a
        playback to the channel outside a bridge suspends it for good
        (`Playbacks._start_playback`)."""
        ch = self._stasis_channel(channel_id)
        if ch.state in ("Down", "Ringing"):
            raise SwitchError(412, "Channel in invalid state")
        if on and self.channel_moh_error is not None:
            raise self.channel_moh_error
        if on and ch.record.ringing and ch.state == "Up":
            ch.record.ringing = False
            self._note(ch, "ringing replaced by moh")
        ch.record.moh = on
        self._note(ch, f"moh {'on' if on else 'off'}" + (f" {moh_class}" if moh_class else ""))
        self._changed()
