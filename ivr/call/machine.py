"""One call: its state, its events and timers, and the flow that carries out the engine's steps.

A `Call` takes its events in order from the controller (the caller's channel, its originated
legs and its playbacks all map to one call) and its own timer expiries, each under the call's
lock, so it never sees two things at once. Each becomes what the call's flow waits for (a key,
the prompts' end, a leg answering or gone, a timer: `ivr.call.intake`) and is delivered to the
flow (`ivr.call.flow`), which reads top-down: it begins answered or taken over
(`ivr.call.entry`), then asks the engine and runs the phase of each step (`ivr.call.course`).
I/O of the flow's own (a status look-up) runs outside the lock (`Call.outside_lock`): the flow
waits for its end like any other event, and the call's events go on meanwhile. The caller
hanging up or leaving the application ends the call wherever the flow is. Every transition
goes through `Call.enter`, which checks the transition table and tells the observers
(`ivr.call.observers`: the log line, the decision record, the metrics). After each event or
timer, a call that nothing would move on (a request failed) is handed to the dialplan fallback
as ``stalled``, never left in silence. A transfer handed to the dialplan (`ivr.call.handover`)
leaves the call waiting for its caller's end, which tells the transfer's course. When the call
ends, in any state, every timer, playback, originated leg, bridge, music on hold and ringing
indication it owns is released.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import structlog

from dialplan.transfer_plan import TransferPlan
from ivr.ari.client import AriClient
from ivr.ari.errors import AriError
from ivr.ari.events import AriEvent
from ivr.call import ids
from ivr.call.entry import answered_flow, request_answer, taken_over_flow
from ivr.call.environment import CallEnvironment, CallSettings
from ivr.call.flow import Expired, Flow, FlowEvent, PromptsDone, WorkDone
from ivr.call.intake import intake, missed
from ivr.call.persistor import SavedCall
from ivr.call.record import DecisionRecord
from ivr.call.resources import Playing, Resources, stop_playbacks
from ivr.call.states import (
    CALLER_HANGUP,
    COMPLETED,
    LOST_ON_RECONNECT,
    TRANSFERRING,
    CallState,
    Ending,
    Fact,
    Link,
    Transition,
    check_transition,
)
from ivr.call.timers import CallTimers, TimerHandle
from ivr.call.transfer import TransferResume
from routing_rules.decision import Decision, Prompts, StatusResult
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Call:
    """One inbound call, from StasisStart to its end."""

    def __init__(
        self,
        *,
        call_id: str,
        dialled: str,
        calling: str | None,
        snapshot: RuleSnapshot,
        env: CallEnvironment,
        channelvars: Mapping[str, str] | None = None,
        caller_for_logs: str | None = None,
    ) -> None:
        """``caller_for_logs`` is the calling number as logs may carry it; by default the
        environment's ``redact`` works it out once the call starts (after its answer request,
        when it needs one)."""
        self.call_id = call_id
        self.channelvars = channelvars
        self.dialled = dialled
        self.calling = calling
        self.snapshot = snapshot
        self.env = env
        self.state = CallState.ANSWERING
        self.language: str = snapshot.rules.languages.default
        self.location: tuple[float, float] | None = None
        self.greeting_done = False
        self.digits: list[str] = []
        self.status: StatusResult | None = None
        """How the caller's service-request status check ended, once it did."""
        self.record = DecisionRecord(
            call_id=call_id,
            dialled=dialled,
            caller="",
            rules_version=snapshot.version,
            rules_hash=snapshot.content_hash[:12],
            started_at=env.clock().isoformat(),
            language=self.language,
        )
        self.ended = asyncio.Event()
        self.started_at = time.monotonic()
        self.answered_at: float | None = None
        self.resources = Resources(env.ari, call_id)
        self.end_follows = False
        """A request found the caller's channel gone or out of the application: its end event
        is on the way."""
        self.hand_back_unconfirmed: str | None = None
        """The reason of a hand-back whose continue request Asterisk did not confirm (no
        answer, a server error): the caller may still be in the application. The call counted
        it as handed back already; the controller continues the caller after reconnecting."""
        self._caller: str | None = None
        if caller_for_logs is not None:
            self._name_caller(caller_for_logs)
        self.caller_gone = False
        """The caller's channel is gone or out of the application: nothing more is asked of
        it."""
        self._lock = asyncio.Lock()
        self._flow = Flow()
        self._timers = CallTimers(env.scheduler, self._expired)
        self._outside: asyncio.Task[None] | None = None
        """While the flow runs work outside the call's lock: what tells it the work is done
        (`outside_lock`)."""
        self._closed = False
        """The controller closed: the call takes nothing more in (`close`)."""
        self.dialplan_plan: TransferPlan | None = None
        """The plan of the transfer the call hands to the dialplan, saved with its state."""
        self.in_dialplan = False
        """The dialplan carries the call's transfer out: the call waits for its caller's end
        (`ivr.call.handover`)."""
        self.hung_up_at: float | None = None
        """When the caller of a call in the dialplan hung up (its hang-up request's time)."""
        self._stale_playbacks: list[str] = []
        """An earlier controller's playbacks `start` stops first (`start_afresh`)."""
        self._since = self.started_at
        self._notes: list[Fact] = []

    # --- what the controller sees ------------------------------------------------------------

    @property
    def pending_timers(self) -> dict[str, float]:
        """The timers running now (``menu``, ``ring``, ``accept``) and when
        each expires on the scheduler's clock."""
        return self._timers.pending

    @property
    def since(self) -> float:
        """When the call entered its state (`time.monotonic`)."""
        return self._since

    def summary(self) -> dict[str, object]:
        """A JSON-ready view of the call in progress (for the admin API). ``carried_by`` says
        who carries the call now: ``dialplan`` for a transfer handed to the dialplan (its state
        stays ``transferring.hold`` until it ends), else ``controller``."""
        return {
            "call_id": self.call_id,
            "state": str(self.state),
            "carried_by": "dialplan" if self.in_dialplan else "controller",
            "dialled": self.dialled,
            "caller": self._caller_for_logs(),
            "language": self.language,
            "digits": list(self.digits),
            "rules_version": self.snapshot.version,
            "destination": self.record.destination,
            "age_s": round(time.monotonic() - self.started_at, 1),
        }

    def start_afresh(self) -> None:
        """Before `start`: the caller was an earlier controller's, with no saved state (a
        restart in its greeting). The prompts that controller may have left playing to it are
        stopped as the call's first step, and the call numbers its own after them
        (`ids.AFRESH_NUMBERING_AFTER`), so that their end events are not taken for its own."""
        self._stale_playbacks = ids.early_playback_ids(self.call_id)
        self.resources.prompts.number_after(ids.AFRESH_NUMBERING_AFTER)

    async def start(self, *, answered: bool) -> None:
        """The caller entered the application: answer unless ``answered`` (the channel came
        ``Up``: the generated dialplan answers before Stasis) and start the call's flow.

        An answer request goes out before anything else the call needs (the caller's form for
        the logs, the location, the first decision); a channel that arrives unanswered (another
        dialplan, or one rendered before it answered) still gets one. A call started afresh
        (`start_afresh`) first stops the earlier controller's prompts, so that none plays over
        or after its own.
        """
        async with self._lock:
            if self._over():
                return  # closed (or ended) while this waited for the lock
            await self._stop_stale(self._stale_playbacks)
            failure = None if answered else await request_answer(self)
            with self._bound():
                flow = await answered_flow(self, failure)
                if flow is not None:
                    await self._begin(flow)

    async def take_over(
        self, saved: SavedCall, resume: TransferResume | None, *, in_stasis: bool
    ) -> None:
        """Pick up a call an earlier controller had (its caller answered already, never
        answered again) where ``saved`` says it stood: the engine is asked again with the saved
        context, so the greeting or the menu replays, a status check asks for the request
        number again (how a look-up under way ended is not saved), and a transfer goes on at
        the saved link (``resume``, for a call saved in a transfer: the link and what became
        of that link's leg; the caller, on hold on their own channel, hears the music go on).
        A transfer saved with its plan is followed where the dialplan carries it out, the
        caller continued there first if it is still ``in_stasis`` (in the application). The
        playbacks the earlier controller may have started since it saved are stopped first."""
        async with self._lock:
            if self._over():
                return  # closed (or ended) while this waited for the lock
            await self._stop_stale(ids.playbacks_after(self.call_id, saved.playbacks))
            with self._bound():
                await self._begin(await taken_over_flow(self, saved, resume, in_stasis=in_stasis))

    async def _begin(self, flow: Coroutine[Any, Any, None]) -> None:
        """Run ``flow`` as the call's flow, up to its first wait."""
        self._flow.start(flow, name=f"call-{self.call_id}")
        await self._flow.settled()
        await self._check()

    async def _stop_stale(self, playback_ids: Sequence[str]) -> None:
        """Stop an earlier controller's playbacks on the caller (`stop_playbacks`); after a
        failure the rest are left (Asterisk is not answering)."""
        with self._bound():
            await stop_playbacks(
                self.env.ari, list(playback_ids), "call.stop_stale_playback_failed", give_up=True
            )

    async def handle(self, event: AriEvent) -> None:
        """One ARI event of this call (its caller, legs or playbacks), in arrival order."""
        started = time.perf_counter()
        async with self._lock:
            with self._bound():
                if not self._over():
                    item = await intake(self, event)
                    if item is not None:
                        await self._flow.deliver(item)
                    await self._check()
        self.env.metrics.event_seconds.labels(event.type).observe(time.perf_counter() - started)

    async def hand_back(self, reason: str) -> None:
        """Give the caller to the dialplan fallback context (draining, reconcile, error);
        nothing for a caller whose transfer the dialplan carries out."""
        async with self._lock:
            with self._bound():
                if not self._over() and not self.in_dialplan:
                    await self.hand_over(reason)

    async def resume(self, present: frozenset[str]) -> None:
        """After a reconnect, when events may have been missed while the socket was down
        (``present``: the channels Asterisk still holds for the application): the call goes
        on with what they would have told (`ivr.call.intake.missed`)."""
        async with self._lock:
            with self._bound():
                if self._over():
                    return
                log.debug("call.resume", state=str(self.state))
                async for item in missed(self, present):
                    await self._flow.deliver(item)
                await self._check()

    async def close(self) -> None:
        """The controller closes: stop the call where it stands, its flow, timers and work
        outside the lock, once the step under way has finished its requests; nothing more is
        asked of the switch. Asterisk keeps the caller, and the state the call saved, for the
        controller that comes next (`take_over`)."""
        async with self._lock:
            self._closed = True
            self._timers.cancel_all()
            await self._flow.stop()

    async def lost(self) -> None:
        """Asterisk no longer holds the caller (a restart): clean up what is left, end, and
        count the call as lost (a conversation too: nobody knows how it would have ended)."""
        async with self._lock:
            with self._bound():
                self.caller_gone = True
                await self.finish(LOST_ON_RECONNECT)

    # --- timers and checks ----------------------------------------------------------------------

    async def _expired(self, name: str, handle: TimerHandle) -> None:
        started = time.perf_counter()
        async with self._lock:
            if not self._timers.take(name, handle) or self._over():
                return  # cancelled or restarted while this waited for the lock
            with self._bound():
                log.debug("call.timer_expired", timer=name)
                await self._flow.deliver(Expired(name))
                await self._check()
        self.env.metrics.event_seconds.labels(f"timer.{name}").observe(
            time.perf_counter() - started
        )

    async def _check(self) -> None:
        """After each event, timer or resume: when nothing will move the call on (a request
        failed, say while Asterisk was away or its answer was lost), the dialplan fallback
        takes the caller instead of leaving them in silence."""
        if self._over():
            return
        failure = self._flow.failure()
        if failure is not None:
            log.error("call.flow_failed", exc_info=failure)
        elif self._waiting_for_something():
            return
        log.warning("call.stalled", state=str(self.state))
        await self.hand_over("stalled")

    def _waiting_for_something(self) -> bool:
        """Whether an event or timer is due to move the call on."""
        resources = self.resources
        return (
            self.state is CallState.BRIDGED
            or self.in_dialplan
            or self.end_follows
            or bool(resources.prompts.pending)
            or self._timers.running
            or resources.live_leg is not None
            or self._outside is not None
        )

    def _over(self) -> bool:
        return self._closed or self.state is CallState.ENDED

    def _bound(self) -> AbstractContextManager[None]:
        return structlog.contextvars.bound_contextvars(
            call_id=self.call_id, caller=self._caller_for_logs()
        )

    def _caller_for_logs(self) -> str:
        if self._caller is None:
            self._name_caller(self.env.redact(self.calling))
        return self.record.caller

    def _name_caller(self, caller: str) -> None:
        self._caller = caller
        self.record.caller = caller

    # --- what the phases use ---------------------------------------------------------------------

    @property
    def ari(self) -> AriClient:
        return self.env.ari

    @property
    def settings(self) -> CallSettings:
        return self.env.settings

    def register_leg(self, leg_id: str) -> None:
        """Route the leg's events to this call (before it is dialled)."""
        self.env.register_leg(leg_id, self.call_id)

    def enter(
        self,
        new: CallState,
        why: str,
        *,
        decision: Decision | None = None,
        link: Link | None = None,
        ending: Ending | None = None,
        at: float | None = None,
    ) -> None:
        """Move to ``new`` (`IllegalTransition` if the table does not allow it) and tell the
        observers, with what was noted in the state left; ``at`` (`time.monotonic`) when it
        happened earlier than now (a transfer the dialplan carried out)."""
        check_transition(self.state, new)
        now = time.monotonic() if at is None else at
        transition = Transition(
            self, self.state, new, now, self._since, why, decision, link, tuple(self._notes), ending
        )
        self._notes.clear()
        self.state, self._since = new, now
        for observe in self.env.observers:
            observe(transition)

    def note(self, fact: Fact) -> None:
        """Something that happened in this state, told with the transition that leaves it."""
        self._notes.append(fact)

    async def receive(self) -> FlowEvent:
        """In the flow: the next thing that happens to the call."""
        return await self._flow.receive()

    async def play(self, channel_id: str, prompts: Prompts) -> bool:
        """Play ``prompts`` to one of the call's channels (stopping those playing); whether
        the flow is to wait for their end (`PromptsDone`), that is unless there was nothing to
        play. A failed request leaves the flow waiting for an end that never comes: the
        caller's end event follows, or nothing moves the call on and it is handed back. A
        playback started on the caller's channel ends the music on hold (Asterisk suspends it
        and does not start it again)."""
        if channel_id == self.call_id:
            await self.env.state_written(self.call_id)
        playing = await self.resources.prompts.play(channel_id, prompts)
        if channel_id == self.call_id:
            if playing is Playing.STARTED:
                self.resources.music = False
            elif playing is Playing.CHANNEL_GONE:
                self.end_follows = True
        return playing is not Playing.NOTHING

    async def play_through(self, channel_id: str, prompts: Prompts) -> None:
        """Play ``prompts`` and wait for their end (whatever else happens meanwhile)."""
        if await self.play(channel_id, prompts):
            while not isinstance(await self.receive(), PromptsDone):
                pass

    async def outside_lock(self, work: Awaitable[T]) -> T:
        """In the flow: await ``work`` (I/O bounded by its own time limit, a status look-up)
        with the call's lock free, so the call takes its events meanwhile: the caller hanging
        up ends the call at once and cancels the work; keys pressed meanwhile are dropped."""
        task = asyncio.ensure_future(work)
        self._outside = asyncio.get_running_loop().create_task(
            self._work_done(task), name=f"call-{self.call_id}-work"
        )
        try:
            while not isinstance(await self.receive(), WorkDone):
                pass
        finally:
            task.cancel()  # the call ended first; once the work is done, this does nothing
            self._outside = None
        return task.result()

    async def _work_done(self, work: asyncio.Future[Any]) -> None:
        """Once ``work`` is done, tell the flow (`WorkDone`) under the call's lock."""
        await asyncio.wait((work,))
        async with self._lock:
            if self._over():
                return
            with self._bound():
                await self._flow.deliver(WorkDone())
                await self._check()

    async def stop_prompts(self) -> None:
        await self.resources.prompts.stop()

    async def stop_music(self) -> None:
        await self.resources.stop_music(caller_gone=self.caller_gone)

    async def stop_ringing(self) -> None:
        await self.resources.stop_ringing(caller_gone=self.caller_gone)

    @contextmanager
    def timer(self, name: str, delay_s: float) -> Iterator[None]:
        """A timer of the call while the block runs: `Expired` arrives if it runs out."""
        self._timers.start(name, delay_s)
        try:
            yield
        finally:
            self._timers.cancel(name)

    async def hand_over(self, reason: str) -> None:
        """Give the caller to the dialplan fallback context and end the call (from the flow,
        or with the call's lock held)."""
        await self._flow.stop()
        await self._release()
        if not self.caller_gone:
            try:
                await self.env.ari.continue_in_dialplan(
                    self.call_id, self.settings.fallback_context, self.dialled, 1
                )
                self.caller_gone = True
            except AriError as exc:
                log.warning("call.continue_failed", error=str(exc))
                if not (exc.is_gone or exc.is_conflict):
                    self.hand_back_unconfirmed = reason
        await self.finish(Ending.handed_back(reason))

    async def finish(self, ending: Ending, *, hang_up_caller: bool = False) -> None:
        """End the call (from the flow, or with the call's lock held): stop the flow, release
        what the call holds, then tell the controller."""
        if self._over():
            return
        await self._flow.stop()
        leg = self.resources.live_leg
        if ending == CALLER_HANGUP and self.state in TRANSFERRING and leg is not None:
            self.note(leg.attempt("caller_hangup"))
        completed = self.state is CallState.BRIDGED and ending != LOST_ON_RECONNECT
        self.enter(CallState.ENDED, str(ending), ending=COMPLETED if completed else ending)
        await self._release()
        if hang_up_caller and not self.caller_gone:
            await self.resources.quietly(self.env.ari.hangup(self.call_id))
        self.ended.set()
        self.env.on_end(self)

    async def _release(self) -> None:
        self._timers.cancel_all()
        await self.resources.release(caller_gone=self.caller_gone)
