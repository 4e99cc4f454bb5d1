"""Channels hanging up on the simulated Asterisk, at the application's request or the far
end's, with Asterisk's sequence of events."""

from __future__ import annotations

from switchsim.objects import FakeChannel, SwitchError
from switchsim.playbacks import Playbacks
from switchsim.records import HANGUP_REASONS, NORMAL_CLEARING, HungUpBy


class Hangups(Playbacks):
    """``DELETE /channels/{id}``, the far end hanging up, and a channel's destruction."""

    def hangup(self, channel_id: str, reason: str | None) -> None:
        ch = self._channel(channel_id)
        cause = HANGUP_REASONS.get(reason or "normal")
        if cause is None:
            raise SwitchError(400, "Invalid reason for hangup provided")
        self._destroy(ch, cause[0], cause[1], by="app")

    def _far_end_hangs_up(self, channel_id: str, cause: int = 16) -> None:
        ch = self._channel(channel_id)
        who: HungUpBy = "caller" if ch.record.direction == "inbound" else "callee"
        self._destroy(ch, cause, _cause_text(cause), by=who)

    def _destroy(self, ch: FakeChannel, cause: int, cause_txt: str, *, by: HungUpBy) -> None:
        """Hang a channel up, emitting Asterisk's sequence of events."""
        if ch.id not in self.channels:
            return
        if ch.record.direction == "outbound" and ch.state != "Up" and by == "app":
            self._emit_for(ch, {"type": "Dial", "peer": ch.snapshot(), "dialstatus": "CANCEL"})
        if by != "callee" or ch.state == "Up":
            self._emit_channel(ch, "ChannelHangupRequest", cause=cause)
        self._stop_channel_playbacks(ch, "done", "hangup")
        self._leave_bridge(ch)
        if ch.in_app:
            ch.in_app = False
            self._emit_channel(ch, "StasisEnd")
        for timer in ch.timers:
            timer.cancel()
        del self.channels[ch.id]
        ch.record.destroyed = True
        ch.record.ringing = False
        ch.record.cause = cause
        if ch.record.hung_up_by is None:
            ch.record.hung_up_by = by
        self._note(ch, f"hung up by {by} cause={cause}")
        self._emit_channel(ch, "ChannelDestroyed", cause=cause, cause_txt=cause_txt)
        if ch.on_destroyed is not None:
            ch.on_destroyed(cause)
        self._changed()


def _cause_text(cause: int) -> str:
    for code, text in HANGUP_REASONS.values():
        if code == cause:
            return text
    return NORMAL_CLEARING[1] if cause == NORMAL_CLEARING[0] else "Unknown"
