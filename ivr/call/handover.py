"""A warm transfer the generated dialplan carries out (``IVR311_TRANSFERS=dialplan``).

The call saves the transfer's plan (`dialplan.transfer_plan`) with its state on the caller's
channel, keeps the application subscribed to that channel, and continues the caller to the
transfer context: the announcement, music while each link rings, the whisper and accept key
on the answered leg (``Dial(...,U())``), the conversation or the final message are Asterisk's
own work, with no request or event of the controller's. A call so handed over costs under half
the messages of one carried out over ARI (`ivr.call.transfer`: 10 against 23), and a controller
restart cannot touch it: the subscription is the application's, not its socket's, so the next
controller follows the caller on it (`follow_taken_over`). When the caller's channel is
destroyed, its last event carries the marks the dialplan left (``channelvars``); the call then
goes through the states the transfer went through, at the times the dialplan noted, so that
its record, log lines and metrics read as those of a transfer carried out over ARI, and ends.

A transfer the dialplan cannot carry out (a prompt of Asterisk's say media, a value that
would not survive as a dialplan argument), or whose hand-over Asterisk refuses, is carried out
over ARI instead: the caller is transferred either way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from dialplan.transfer_plan import (
    TRANSFER_CONTEXT,
    Mark,
    PlanLink,
    TransferPlan,
    dial_arguments,
    parse_outcome,
    read_dial_arguments,
    sounds,
)
from ivr.ari.errors import AriError
from ivr.call.environment import CallSettings
from ivr.call.flow import TransferEnded
from ivr.call.observers import first_destination
from ivr.call.record import TransferAttempt
from ivr.call.states import (
    CALLER_HANGUP,
    COMPLETED,
    MESSAGE_PLAYED,
    TRANSITIONS,
    CallState,
    Ending,
    Link,
)
from ivr.call.transfer import Q850_RESULTS, carry_out
from routing_rules.decision import Decision, Transfer, TransferKind, TransferTarget
from routing_rules.policy import dial_string

if TYPE_CHECKING:
    from ivr.call.machine import Call

log = structlog.get_logger(__name__)

TIMES_RESOLUTION_S = 0.002
"""Marks and event times are to the millisecond, one rounded and the other cut: a mark this
close after the caller's hang-up may have come first."""
DIALSTATUS_RESULTS = {"BUSY": "busy", "NOANSWER": "no_answer"}
"""A link's result from ``DIALSTATUS``; any other failed status is told by the cause."""


def plan_of(step: Transfer, settings: CallSettings) -> TransferPlan | None:
    """The dialplan's plan of ``step``, or None when the dialplan cannot carry it out."""
    announce, final_message = sounds(step.announce), sounds(step.final_message)
    if announce is None or final_message is None:
        return None
    links = []
    for target in step.chain:
        dial = dial_arguments(
            dial_string(target.dial, settings.dial_endpoint),
            target.ring_timeout_s,
            settings.hold_music_class,
            target.caller_id,
        )
        whisper = sounds(target.whisper)
        if dial is None or whisper is None:
            return None
        links.append(PlanLink(dial, whisper, target.accept_key or "", target.destination_id))
    return TransferPlan(announce, tuple(links), final_message, settings.accept_timeout_s, step.kind)


async def hand_over_transfer(call: Call, step: Transfer, decision: Decision, why: str) -> None:
    """Hand the transfer to the dialplan and follow it to the caller's end; over ARI when
    the dialplan cannot take it."""
    plan = plan_of(step, call.settings)
    if plan is None:
        log.info("call.transfer_in_application", why="not expressible in the dialplan")
    call.dialplan_plan = plan
    call.enter(
        CallState.TRANSFER_HOLD,
        f"{why}: {step.kind} transfer to {first_destination(step)}",
        decision=decision,
    )
    if plan is None or not await _leave_for_dialplan(call):
        call.dialplan_plan = None
        if not call.end_follows:
            await carry_out(call, step)
        return
    await follow_in_dialplan(call, step.kind, step.chain)


async def _leave_for_dialplan(call: Call) -> bool:
    """Once the plan is saved: continue the caller to the transfer context, its events still
    coming. False when the caller is still the call's to transfer over ARI (or gone:
    ``end_follows``)."""
    if not await call.env.state_written(call.call_id):
        log.warning("call.handover_failed", step="plan not saved")
        return False
    refused = await _continue_to_transfer(call)
    if refused is not None:
        if refused.is_gone or refused.is_conflict:
            call.end_follows = True
        log.warning("call.handover_failed", error=str(refused))
        return False
    call.in_dialplan = True
    return True


async def _continue_to_transfer(call: Call) -> AriError | None:
    """Subscribe the application to the caller's channel, so that its events (to its end,
    with the marks the dialplan leaves) keep coming once it leaves the application, then
    continue it to the transfer context. None when Asterisk took both; else what it answered,
    the continue not made when the subscription was refused."""
    try:
        await call.ari.subscribe_to_channel(call.call_id)
        await call.ari.continue_in_dialplan(call.call_id, TRANSFER_CONTEXT, "s", 1)
    except AriError as exc:
        return exc
    return None


async def follow_in_dialplan(
    call: Call, kind: TransferKind, chain: tuple[TransferTarget, ...]
) -> None:
    """Wait for the caller's end, then go through the transfer's course down ``chain`` and end
    the call."""
    while not isinstance(event := await call.receive(), TransferEnded):
        pass
    marks = parse_outcome(event.outcome)
    if event.hung_up_at is not None:
        # The caller gone, the leg may still play its whisper and accept (Dial's U() runs
        # to its end): nothing after the hang-up reached the caller.
        marks = [mark for mark in marks if mark.at <= event.hung_up_at + TIMES_RESOLUTION_S]
    ending = replay(call, kind, chain, marks)
    await call.finish(ending)


async def follow_taken_over(
    call: Call, plan: TransferPlan, decision: Decision | None, why: str, *, in_stasis: bool
) -> None:
    """A transfer an earlier controller handed to the dialplan: the caller is followed to its
    end, its course told down the plan's chain (the engine, asked again, gives the record its
    route).

    A caller in the dialplan (not ``in_stasis``) is left where it is: the earlier controller
    subscribed the application to it before continuing it, and the subscription, the
    application's and not its socket's, holds. A caller still in the application (that
    controller died between saving the plan and the caller leaving) is continued to the
    transfer context as a hand-over does it, subscription first."""
    call.dialplan_plan, call.in_dialplan = plan, True
    step = decision.step if decision is not None else None
    transfer = step if isinstance(step, Transfer) else None
    call.enter(CallState.TRANSFER_HOLD, why, decision=decision if transfer else None)
    if in_stasis and (refused := await _continue_to_transfer(call)) is not None:
        # A caller gone meanwhile has its end event on the way all the same (the call is
        # registered before this runs); 409: the earlier controller's continue took effect.
        log.debug("call.handover_confirmed", error=str(refused))
    kind = transfer.kind if transfer is not None else plan.kind
    await follow_in_dialplan(call, kind, chain_of(plan, transfer))


def chain_of(plan: TransferPlan, transfer: Transfer | None) -> tuple[TransferTarget, ...]:
    """The links ``plan`` dialled, as ``transfer``'s targets where they are the same
    destinations, else as the plan tells them."""
    chain = transfer.chain if transfer is not None else ()
    targets = []
    for index, link in enumerate(plan.links):
        if index < len(chain) and link.destination in (chain[index].destination_id, ""):
            targets.append(chain[index])
        else:
            try:
                arguments = read_dial_arguments(link.dial)
                dial, ring_s = arguments.dial_string, float(arguments.ring_timeout_s)
            except ValueError:
                dial, ring_s = "", 0.0  # told by its destination alone
            destination = link.destination or f"link-{index + 1}"
            targets.append(
                TransferTarget(
                    destination, destination, dial, ring_s, (), "", link.accept_key or None, ""
                )
            )
    return tuple(targets)


def replay(
    call: Call, kind: TransferKind, chain: tuple[TransferTarget, ...], marks: list[Mark]
) -> Ending:
    """Enter the states the dialplan's marks tell, each at its time, and note each link's
    attempt; returns how the call ended. Marks out of order or naming no link of ``chain``
    are skipped: they cannot move the call anywhere its table does not allow."""
    course = _Course(call, kind, chain)
    for mark in marks:
        course.take(mark)
    return course.ending()


class _Course:
    """The transfer's course as the marks tell it, entered into the call as it goes."""

    def __init__(self, call: Call, kind: TransferKind, chain: tuple[TransferTarget, ...]) -> None:
        self.call = call
        self.kind = kind
        self.chain = chain
        self.link: Link | None = None
        self.dialled_at = 0.0
        self.answered_at: float | None = None
        self.over: Ending | None = None
        self._epoch_to_monotonic = time.monotonic() - time.time()
        self._latest = call.since

    def take(self, mark: Mark) -> None:
        if self.over is not None:
            return
        at = self._at(mark.at)
        if mark.link is not None and mark.link >= len(self.chain):
            return
        match mark.kind:
            case "d" if mark.link is not None:
                self.link = Link(self.kind, mark.link, self.chain[mark.link])
                self.dialled_at, self.answered_at = at, None
                self._enter(CallState.TRANSFER_RINGING, f"dialling {self._destination}", at)
            case "a" if self._on(mark):
                self.answered_at = at
                self._enter(CallState.TRANSFER_WHISPER, f"{self._destination} answered", at)
            case "w" if self._on(mark):
                self._enter(CallState.TRANSFER_AWAITING_ACCEPT, "whisper played", at)
            case "k" if self._on(mark):
                self._attempt("answered")
                self._enter(CallState.BRIDGED, f"connected to {self._destination}", at)
            case "e" if self._on(mark):
                if self.call.state is CallState.BRIDGED:
                    self.over = COMPLETED
                    return
                self._attempt(self._failure(mark), until=at)
            case "m":
                self._enter(CallState.MESSAGE, "no link of the chain connected", at)
            case "z" if self.call.state is CallState.MESSAGE:
                self.over = MESSAGE_PLAYED

    def ending(self) -> Ending:
        """How the call ended: as the marks say, else its caller hung up where it was."""
        if self.over is not None:
            return self.over
        if self.link is not None and self.call.state in _ON_A_LINK:
            self._attempt("caller_hangup", until=time.monotonic())
        return CALLER_HANGUP

    @property
    def _destination(self) -> str:
        return self.link.target.destination_id if self.link is not None else "message"

    def _on(self, mark: Mark) -> bool:
        return self.link is not None and mark.link == self.link.index

    def _failure(self, mark: Mark) -> str:
        if self.answered_at is not None:
            return "not_accepted"
        result = DIALSTATUS_RESULTS.get(mark.status)
        return result or Q850_RESULTS.get(mark.cause or 0, "failed")

    def _attempt(self, result: str, until: float | None = None) -> None:
        if self.link is None or self.call.state not in _ON_A_LINK:
            return
        end = self.answered_at if self.answered_at is not None else until or self.dialled_at
        ring_s = round(max(0.0, end - self.dialled_at), 3)
        self.call.note(TransferAttempt(self.link.target.destination_id, result, ring_s))

    def _enter(self, state: CallState, why: str, at: float) -> None:
        if state not in TRANSITIONS[self.call.state]:
            log.warning("call.outcome_mark_skipped", state=str(self.call.state), to=str(state))
            return
        self.call.enter(state, why, link=self.link, at=at)

    def _at(self, unix_time: float) -> float:
        """A mark's time on the monotonic clock, never before the last one nor in the
        future (the dialplan's clock is Asterisk's)."""
        at = min(max(unix_time + self._epoch_to_monotonic, self._latest), time.monotonic())
        self._latest = at
        return at


_ON_A_LINK = frozenset(
    {
        CallState.TRANSFER_RINGING,
        CallState.TRANSFER_WHISPER,
        CallState.TRANSFER_AWAITING_ACCEPT,
    }
)
