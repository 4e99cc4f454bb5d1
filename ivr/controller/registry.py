"""What the controller keeps of the channels Asterisk holds for the application.

Each channel the controller has to do with is in one of four registries, by what it does with
it: the caller of a call of its, a leg one of those calls originated, a side of a conversation
it watches without a call (`ivr.controller.conversations`), or a caller whose hand-back to the
fallback context Asterisk did not confirm (`ivr.controller.hand_backs`). The controller builds
one `ChannelRegistry` and shares it with its reconcile (`ivr.controller.reconcile`), which
squares it with what Asterisk still holds after every (re)connect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ivr.call import Call
from ivr.controller.conversations import AdoptedConversations
from ivr.controller.hand_backs import HandBacks


@dataclass(frozen=True, slots=True)
class ChannelRegistry:
    """The channels one controller handles, and whether it is idle."""

    calls: dict[str, Call]
    """The calls in progress, by their caller's channel (the call id)."""
    legs: dict[str, str]
    """Leg channel -> the call that originated it, registered before it is dialled."""
    conversations: AdoptedConversations
    hand_backs: HandBacks
    idle: asyncio.Event
    """Set while no call is in progress nor a hand-back still to confirm (a drain waits on it)."""

    def add_call(self, call: Call) -> None:
        """A call starts (or is taken over): the controller is no longer idle."""
        self.calls[call.call_id] = call
        self.idle.clear()

    def remove_call(self, call_id: str) -> None:
        """A call ended: forget it and the legs it originated (`update_idle` is the caller's,
        once what the end leaves behind, a hand-back to confirm, is registered)."""
        self.calls.pop(call_id, None)
        for leg_id in [leg for leg, owner in self.legs.items() if owner == call_id]:
            del self.legs[leg_id]

    def update_idle(self) -> None:
        """Set `idle` when no call is in progress nor a hand-back still to confirm."""
        if not self.calls and not self.hand_backs.pending:
            self.idle.set()

    def channels(self) -> set[str]:
        """Every channel in one of the registries."""
        return (
            set(self.calls)
            | set(self.legs)
            | self.conversations.channels()
            | self.hand_backs.channels()
        )
