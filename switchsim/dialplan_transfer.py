"""The transfer context of the generated dialplan, as Asterisk runs it for a caller the
controller continued there (`dialplan.transfer_plan`).

The switch reads the plan off the caller's saved state (``IVR311_STATE``, under `PLAN_KEY`)
and carries it out as the context would: the announcement (a ``Playback()``), then each link's
``Dial()`` with its scripted `Outcome` (the one an originate to that endpoint would take),
music on hold for the caller while it rings and during the whisper, the whisper and the accept
key on the answered leg (``U()``), the bridge, or the final message. Its progress goes to the
caller's `OUTCOME_VARIABLE` as the marks the context writes, each set a ``ChannelVarset`` to
the applications subscribed to the caller (who also get ``Dial`` events about it). The legs
are in no application: they send no events, but keep records as originated legs do.

As in `dialplan.transfer_context`: with an accept key, any key cuts the whisper short (the
accept key accepts at once, with no ``w``); another key is ignored, and the accept time runs
from the end of the whisper. With no accept key the leg is bridged (``k``) once the whisper is
over, with no ``w``. A link that rang out is ``e:I:NOANSWER::T`` (no cause); a leg refused or
gone during the whisper is ``ANSWER`` with its cause; a link whose arguments do not read
(`read_dial_arguments`) or whose dial string names no ``tech/resource`` fails at once,
``CHANUNAVAIL``, with no leg. An empty final message (or no plan at
all) fails its ``Playback()``: the caller is hung up after ``m``, with no ``z``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from dialplan.names import STATE_VARIABLE
from dialplan.transfer_plan import (
    OUTCOME_VARIABLE,
    PLAN_KEY,
    DialArguments,
    PlanLink,
    TransferPlan,
    read_dial_arguments,
)
from recordings.manifest import parse_sound_name
from switchsim.objects import FakeChannel, ari_timestamp
from switchsim.records import (
    FAILURE_CAUSES,
    NORMAL_CLEARING,
    ChannelRecord,
    Outcome,
    PlayRecord,
)

if TYPE_CHECKING:
    from switchsim.asterisk import SimulatedAsterisk

Phase = Literal["announce", "ringing", "whisper", "awaiting", "bridged", "message", "over"]


def sound_media(sounds: str) -> tuple[str, ...]:
    """A ``Playback()`` argument (``&``-joined sound names) as the media URIs it plays."""
    return tuple(f"sound:{name}" for name in sounds.split("&") if name)


def _now() -> str:
    return f"{time.time():.3f}"


class DialplanTransfer:
    """One caller in the transfer context, from its entry until it or the context hangs up."""

    def __init__(self, switch: SimulatedAsterisk, caller: FakeChannel, plan: TransferPlan):
        self.switch = switch
        self.caller = caller
        self.plan = plan
        self.phase: Phase = "announce"
        self.link = -1
        self.leg: FakeChannel | None = None
        self.arguments: DialArguments | None = None
        self.whisper: PlayRecord | None = None
        self.whisper_timer: asyncio.TimerHandle | None = None
        self.press_after_whisper = ""

    @classmethod
    def enter(cls, switch: SimulatedAsterisk, caller: FakeChannel) -> None:
        """``caller`` entered the context: carry out its plan. Without one, the context's
        ``JSON_DECODE`` reads every member empty: no announcement, no link, no message."""
        plan = TransferPlan.from_json(_saved_plan(caller.variables.get(STATE_VARIABLE, "")))
        if plan is None:
            switch._note(caller, "transfer context: no plan")
        transfer = cls(switch, caller, plan or TransferPlan("", (), "", 0.0))
        caller.on_destroyed = transfer.caller_gone
        transfer.later(caller, 0.0, transfer.start)

    def start(self) -> None:
        self.mark("h")
        self.play(self.caller, self.plan.announce, self.dial_next)

    # --- the caller's side ---------------------------------------------------------------------

    def mark(self, *fields: object) -> None:
        """Append a mark, stamped now, to the caller's outcome (a ``Set()``: ChannelVarset)."""
        text = ":".join((*map(str, fields), _now()))
        ch = self.caller
        ch.variables[OUTCOME_VARIABLE] = f"{ch.variables.get(OUTCOME_VARIABLE, '')} {text}".strip()
        self.switch._note(ch, f"outcome {text}")
        self.switch._emit_channel(
            ch, "ChannelVarset", variable=OUTCOME_VARIABLE, value=ch.variables[OUTCOME_VARIABLE]
        )

    def play(self, ch: FakeChannel, sounds: str, then: Callable[[], None]) -> None:
        """A ``Playback()`` of ``sounds`` on ``ch`` (recorded as its plays), then ``then``."""
        media = sound_media(sounds)
        if not media:
            self.later(ch, 0.0, then)
            return
        parsed = parse_sound_name(media[0].removeprefix("sound:"))
        lang = parsed[0] if parsed is not None and parsed[0] else ch.language
        record = PlayRecord(f"dialplan-{ch.id}-{len(ch.record.plays)}", media, lang)
        record.started, record.state = True, "playing"
        ch.record.plays.append(record)
        if ch.record.moh:
            ch.record.moh = False
            self.switch._note(ch, "moh suspended")
        self.switch._note(ch, "play " + ",".join(media) + f" lang={lang}")
        # Playback() stops at the first sound it cannot find, and the dialplan goes on.
        heard = list(itertools.takewhile(lambda uri: self.switch._media_ok(uri, lang), media))
        failed = len(heard) < len(media)
        if failed:
            self.switch._note(ch, f"media missing {media[len(heard)]}")
        duration = sum(self.switch._media_duration(uri) for uri in heard)

        def played() -> None:
            record.state = "failed" if failed else "done"
            then()

        timer = self.later(ch, duration, played)
        if ch is self.leg:
            self.whisper, self.whisper_timer = record, timer

    def later(
        self, ch: FakeChannel, delay_s: float, step: Callable[[], None]
    ) -> asyncio.TimerHandle:
        """Run ``step`` after ``delay_s`` unless ``ch`` is gone by then."""

        def run() -> None:
            if ch.id in self.switch.channels:
                step()
                self.switch._changed()

        timer = asyncio.get_running_loop().call_later(delay_s, run)
        ch.timers.append(timer)
        return timer

    def music(self, on: bool) -> None:
        arguments = self.arguments
        if arguments is None or self.caller.record.moh == on:
            return
        self.caller.record.moh = on
        moh_class = f" {arguments.moh_class}" if on and arguments.moh_class else ""
        self.switch._note(self.caller, f"moh {'on' if on else 'off'}{moh_class}")

    def hang_up_caller(self) -> None:
        self.phase = "over"
        self.switch._destroy(self.caller, *NORMAL_CLEARING, by="dialplan")

    def caller_gone(self, cause: int) -> None:
        """The caller hung up (or was hung up): Dial() hangs the leg up, the context ends."""
        self.phase = "over"
        _cut_plays(self.caller)
        if self.leg is not None:
            self.switch._destroy(self.leg, *NORMAL_CLEARING, by="dialplan")

    # --- the links -------------------------------------------------------------------------------

    def dial_next(self) -> None:
        self.link += 1
        if self.link >= len(self.plan.links):
            self.final_message()
            return
        link = self.plan.links[self.link]
        self.phase = "ringing"
        self.arguments = self.dialled(link)
        self.mark("d", self.link)
        if self.arguments is None:
            self.mark("e", self.link, "CHANUNAVAIL", "")
            self.dial_next()
            return
        self.music(True)
        leg = self.leg = self.create_leg(self.arguments)
        leg.on_answer = lambda answer: self.answered(leg, link, answer)
        self.dial_event(leg, "")
        outcome = self.switch._next_outcome(self.arguments.dial_string)
        if outcome.kind in ("answer", "no_answer", "ring"):
            leg.state = "Ringing"
            self.switch._note(leg, "ringing")
        self.later(
            leg,
            self.arguments.ring_timeout_s,
            lambda: self.leg_fails(leg, "no_answer", by="dialplan"),
        )
        if outcome.kind == "answer":
            self.later(leg, outcome.after_s, lambda: self.answered(leg, link, outcome))
        elif outcome.kind != "ring":
            kind = outcome.kind
            self.later(leg, outcome.after_s, lambda: self.leg_fails(leg, kind, by="callee"))

    def dialled(self, link: PlanLink) -> DialArguments | None:
        """What ``link``'s ``Dial()`` dials; None when it cannot dial (it fails at once)."""
        try:
            arguments = read_dial_arguments(link.dial)
        except ValueError as exc:
            self.switch._note(self.caller, f"dial failed: {exc}")
            return None
        tech, _, resource = arguments.dial_string.partition("/")
        if not tech or not resource:
            self.switch._note(self.caller, f"dial failed: no tech/resource {arguments.dial_string}")
            return None
        return arguments

    def create_leg(self, arguments: DialArguments) -> FakeChannel:
        switch, caller = self.switch, self.caller
        n = next(switch._ids)
        tech, _, resource = arguments.dial_string.partition("/")
        shown = arguments.caller_id or caller.caller_number
        leg_id = f"{switch._epoch}.{n}"
        record = ChannelRecord(
            channel_id=leg_id,
            direction="outbound",
            endpoint=arguments.dial_string,
            originator=caller.id,
            caller_id=shown,
        )
        leg = FakeChannel(
            id=leg_id,
            name=f"{tech}/{resource.partition('@')[0]}-{n:08x}",
            state="Down",
            caller_number=shown,
            caller_name="" if arguments.caller_id else caller.caller_name,
            context="default",
            exten="s",
            record=record,
            created=ari_timestamp(),
        )
        leg.on_destroyed = lambda cause: self.leg_gone(leg, cause)
        leg.on_dtmf = lambda digits: self.pressed(leg, digits)
        switch.channels[leg_id] = leg
        switch.records[leg_id] = record
        switch._note(leg, f"dialled {arguments.dial_string} by the dialplan")
        return leg

    def dial_event(self, leg: FakeChannel, status: str) -> None:
        """A ``Dial`` event about the caller and its leg (to the caller's subscribers)."""
        body: dict[str, Any] = {
            "type": "Dial",
            "caller": self.caller.snapshot(),
            "peer": leg.snapshot(),
            "dialstatus": status,
        }
        if not status and self.arguments is not None:
            body["dialstring"] = self.arguments.dial_string.partition("/")[2]
        self.switch._emit_for(self.caller, body)

    def leg_fails(self, leg: FakeChannel, kind: str, *, by: Literal["callee", "dialplan"]) -> None:
        """The leg ends before answering: busy, no answer, rejected, or Dial()'s timeout."""
        if leg.state == "Up":
            return  # answered first: the timeout or the late failure no longer applies
        cause, text, _ = FAILURE_CAUSES[kind]
        self.switch._note(leg, f"failed: {kind}" if by == "callee" else "failed: dial timeout")
        self.switch._destroy(leg, cause, text, by=by)

    def answered(self, leg: FakeChannel, link: PlanLink, outcome: Outcome) -> None:
        if leg.state == "Up":
            return
        press, press_after_s = outcome.press, outcome.press_after_s
        leg.state = "Up"
        leg.record.answered = True
        self.switch._note(leg, "answered")
        self.dial_event(leg, "ANSWER")
        self.phase = "whisper"
        self.mark("a", self.link)
        if press and press_after_s is not None:
            self.later(leg, press_after_s, lambda: self.switch._far_end_presses(leg.id, press))
        else:
            self.press_after_whisper = press
        if outcome.hangup_after_s is not None:
            self.later(leg, outcome.hangup_after_s, lambda: self.switch._far_end_hangs_up(leg.id))
        self.play(leg, link.whisper, lambda: self.whisper_over(leg, link))

    def whisper_over(self, leg: FakeChannel, link: PlanLink) -> None:
        if self.phase != "whisper":
            return
        if not link.accept_key:
            self.accepted(leg)
            return
        self.phase = "awaiting"
        self.mark("w", self.link)
        self.later(leg, self.plan.accept_timeout_s, lambda: self.refused(leg))
        press, self.press_after_whisper = self.press_after_whisper, ""
        if press:
            self.switch._far_end_presses(leg.id, press)

    def pressed(self, leg: FakeChannel, digits: str) -> None:
        """The destination pressed keys: the accept key accepts while the whisper plays or the
        key is awaited; other keys go unheard."""
        link = self.plan.links[self.link]
        if self.phase not in ("whisper", "awaiting") or not link.accept_key:
            return
        if self.phase == "whisper" and self.whisper is not None:
            self.whisper.state = "stopped"
            if self.whisper_timer is not None:
                self.whisper_timer.cancel()
        if link.accept_key in digits:
            self.accepted(leg)
        elif self.phase == "whisper":
            self.whisper_over(leg, link)

    def refused(self, leg: FakeChannel) -> None:
        """The accept key did not come in time: the subroutine hangs the leg up."""
        if self.phase == "awaiting":
            self.switch._note(leg, "accept key timed out")
            self.switch._destroy(leg, *NORMAL_CLEARING, by="dialplan")

    def accepted(self, leg: FakeChannel) -> None:
        """The leg accepted (or no key was asked): Dial() bridges it with the caller."""
        self.phase = "bridged"
        self.mark("k", self.link)
        self.music(False)
        bridge_id = f"dial-{leg.id}"
        for ch, other in ((self.caller, leg), (leg, self.caller)):
            ch.record.bridges.append(bridge_id)
            ch.record.bridged_with.append(other.id)
            self.switch._note(ch, f"entered mixing bridge {bridge_id}")

    def leg_gone(self, leg: FakeChannel, cause: int) -> None:
        """The leg was destroyed: Dial() returns (``e``), unless the caller is what ended it."""
        if leg is not self.leg or self.phase == "over":
            return
        self.leg = None
        _cut_plays(leg)
        if self.phase == "bridged":
            self.mark("e", self.link, "ANSWER", cause)
            self.hang_up_caller()
            return
        status = "ANSWER" if leg.record.answered else _dial_status(cause)
        if not leg.record.answered:
            self.dial_event(leg, status)
        self.music(False)
        # A link that rang out leaves the caller's HANGUPCAUSE as it was: the context writes
        # no cause for NOANSWER.
        self.mark("e", self.link, status, "" if status == "NOANSWER" else cause)
        self.dial_next()

    # --- no link connected -----------------------------------------------------------------------

    def final_message(self) -> None:
        self.phase = "message"
        self.mark("m")
        if not sound_media(self.plan.final_message):
            # Playback() with no sound fails, and the caller's dialplan ends there.
            self.hang_up_caller()
            return
        self.play(self.caller, self.plan.final_message, self.message_played)

    def message_played(self) -> None:
        self.mark("z")
        self.hang_up_caller()


def _saved_plan(state: str) -> object:
    try:
        saved = json.loads(state)
    except ValueError:
        return None
    return saved.get(PLAN_KEY) if isinstance(saved, dict) else None


def _cut_plays(ch: FakeChannel) -> None:
    """A hang-up cuts what the dialplan was playing to the channel."""
    for play in ch.record.plays:
        if play.state == "playing":
            play.state = "hangup"


def _dial_status(cause: int) -> str:
    """Dial()'s ``DIALSTATUS`` for a leg that ended unanswered with ``cause``."""
    for failure_cause, _, status in FAILURE_CAUSES.values():
        if failure_cause == cause:
            return status
    return "CHANUNAVAIL"
