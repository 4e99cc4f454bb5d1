"""A channel continued from the application to the dialplan, as Asterisk queues it behind the
channel's playbacks; one continued to the transfer context runs it
(`switchsim.dialplan_transfer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from dialplan.transfer_plan import TRANSFER_CONTEXT
from switchsim.bridges import Bridges
from switchsim.dialplan_transfer import DialplanTransfer
from switchsim.objects import FakeChannel

if TYPE_CHECKING:
    from switchsim.asterisk import SimulatedAsterisk


class DialplanContinue(Bridges):
    """``POST /channels/{id}/continue``, carried out once no playback ahead of it is left."""

    def continue_in_dialplan(
        self, channel_id: str, context: str | None, exten: str | None, priority: int | None
    ) -> None:
        """Asterisk queues the continue on the channel's control command queue
        (``stasis_app_control_continue`` is asynchronous), behind the playback in progress and
        every playback queued before it: each ``play_uri`` command blocks the queue until its
        media has played (or the playback was stopped; a stopped queued one is cancelled and
        skipped). Only then does the channel leave the application. A second continue before
        that replaces the target (the commands run back to back, the last goto wins);
        playbacks requested after the continue never play."""
        ch = self._stasis_channel(channel_id)
        target = (context or ch.context, exten or ch.exten, priority if priority else 1)
        if ch.pending_continue is None:
            ch.continue_behind = {pb.id for pb in ch.playbacks}
        ch.pending_continue = target
        self._note(ch, f"continue to {target[0]},{target[1]},{target[2]} queued")
        self._settle_continue(ch)
        self._changed()

    def _settle_continue(self, ch: FakeChannel) -> bool:
        """Carry out a pending continue once no playback ahead of it is left; True if it was."""
        target = ch.pending_continue
        if target is None or not ch.in_app:
            return False
        if any(pb.id in ch.continue_behind for pb in ch.playbacks):
            return False
        ch.pending_continue = None
        ch.continue_behind = set()
        for pb in list(ch.playbacks):
            # Queued after the continue: flushed with the command queue, no event.
            if pb.timer is not None:
                pb.timer.cancel()
            ch.playbacks.remove(pb)
            self.playbacks.pop(pb.id, None)
            pb.record.state = "flushed"
        self._leave_bridge(ch)
        ch.in_app = False
        ch.record.continued_to = target
        self._note(ch, f"continued to {target[0]},{target[1]},{target[2]}")
        self._emit_channel(ch, "StasisEnd")
        ch.subscribed_app = None
        ch.context, ch.exten = target[0], target[1]
        if ch.context == TRANSFER_CONTEXT:
            # The dialplan runs on the whole switch, of which this is a part.
            DialplanTransfer.enter(cast("SimulatedAsterisk", self), ch)
        return True
