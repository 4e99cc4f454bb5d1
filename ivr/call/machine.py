"""One call's state machine: it asks the decision engine what to do and does it through ARI.

A `Call` receives its events in order from the controller (the caller's channel, its
originated legs and its playbacks all map to one call) plus its own timer expiries; both run
under the call's lock, so the machine never sees two things at once. Every transition goes
through `Call._enter`, which checks the transition table and logs it (the only per-call lines
at INFO besides the decision record). After each event or timer, a call that nothing would move
on (a request failed) is handed to the dialplan fallback as ``stalled``, never left in silence.
A caller on hold hears music, or ringing when the music cannot start. When the call ends, in
any state, every timer, playback, originated leg, bridge and ringing indication it owns is
cleaned up, and its decision record is logged once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from dialplan.names import FALLBACK_CONTEXT
from ivr.ari.client import AriClient
from ivr.ari.errors import AriError
from ivr.ari.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelLeftBridge,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    event_channel_id,
)
from ivr.call.record import DecisionRecord, TransferAttempt
from ivr.call.states import TRANSFERRING, CallState, check_transition
from ivr.metrics import Metrics
from routing_rules.decision import (
    CallContext,
    Decision,
    OfferMenu,
    PlayGreeting,
    PlayMessage,
    Prompts,
    Transfer,
    TransferTarget,
)
from routing_rules.policy import dial_string
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)

Decide = Callable[[RuleSnapshot, CallContext], Decision]
Action = Callable[[], Awaitable[None]]

TRANSFER_ARG = "transfer"
"""First appArgs entry of an originated destination leg (``transfer,CALLID``)."""

LOCATION_VARIABLE = "IVR311_LOCATION"
LEAVING_HOLD_WAIT_S = 2.0
"""How long the final message waits for the caller to be out of the holding bridge."""
"""Channel variable carrying a location delivered with the call, as ``"lat,lon"``."""

Q850_RESULTS = {17: "busy", 19: "no_answer", 18: "no_answer", 21: "rejected"}


@dataclass(frozen=True)
class CallSettings:
    """The settings a call needs (a subset of `ivr.settings.Settings`)."""

    dial_endpoint: str = "contact-centres"
    fallback_context: str = FALLBACK_CONTEXT
    accept_timeout_s: float = 15.0
    ring_grace_s: float = 5.0
    hold_music_class: str = "default"


@dataclass
class CallEnvironment:
    """What a call uses from the controller."""

    ari: AriClient
    metrics: Metrics
    settings: CallSettings
    decide: Decide
    register_leg: Callable[[str, str], None]
    """``(leg_channel_id, call_id)``: route the leg's events to this call."""
    on_end: Callable[[Call], None]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    redact: Callable[[str | None], str] = field(default=lambda _number: "redacted")
    """The calling number as logs may carry it (never the full number)."""


@dataclass
class _Leg:
    channel_id: str
    target: TransferTarget
    dialled_at: float
    answered_at: float | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def ring_seconds(self) -> float:
        """From dialling until the destination answered (or, unanswered, until now)."""
        until = self.answered_at if self.answered_at is not None else time.monotonic()
        return round(until - self.dialled_at, 3)


def abandonment_stage(state: CallState) -> str:
    """The ``stage`` label of ``ivr311_calls_abandoned_total`` for a caller who hung up in
    ``state``: answering, greeting, menu, hold, ringing, whisper or awaiting_accept."""
    return str(state).removeprefix("transferring.")


def playback_id(call_id: str, seq: int) -> str:
    """The id of a call's ``seq``-th playback (1, 2, ...), on any of its channels.

    Deterministic so that a controller that did not start a call (a restart) can still stop
    the prompts it may be playing (see `PROMPTS_BEFORE_TRANSFER`)."""
    return f"{call_id}-p{seq}"


PROMPTS_BEFORE_TRANSFER = 16
"""How many of a call's playbacks (``seq`` 1..N) a restarted controller stops on a caller it
does not know before handing it to the fallback context: Asterisk queues the continue behind
the playback in progress and the ones queued, so without this the caller would hear the rest
of the prompt first. Prompts play in runs of one language (``en``/``fr``), so with the rule
schema's limits the greeting takes at most 2 playbacks, the menus at most
``overlap_policy.max_attempts`` <= 5 and the transfer announcement 1: 8. The rest covers the
final message after up to three whispered links (2 each, on the legs) at 15. A caller past
that is on hold (music on the bridge, no playback) or hears a final message after a longer
chain, which the continue then waits for; 16 ``DELETE``s per unknown caller, once per
reconnect, stay cheap (404 for the ones long over)."""


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
        environment's ``redact`` works it out once the answer request is on its way."""
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
        self._lock = asyncio.Lock()
        self._log = log.bind(call_id=call_id)
        self._caller: str | None = None
        if caller_for_logs is not None:
            self._name_caller(caller_for_logs)
        self._started = time.monotonic()
        self._answered_at: float | None = None
        self._bridged_at: float | None = None
        self._caller_gone = False
        self._end_follows = False
        """A request found the caller's channel gone or out of the application: its end event
        is on the way."""
        self._greeting: PlayGreeting | None = None
        self._menu: OfferMenu | None = None
        self._menu_answered = False
        self._transfer: Transfer | None = None
        self._link = -1
        self._legs: dict[str, _Leg] = {}
        self._current_leg: str | None = None
        self._bridges: list[str] = []
        self._ringing = False
        """The caller hears a ringing indication instead of music on hold (stop it when they
        leave hold)."""
        self.hand_back_unconfirmed: str | None = None
        """The reason of a hand-back whose continue request Asterisk did not confirm (no
        answer, a server error): the caller may still be in the application. The call counted
        it as handed back already; the controller continues the caller after reconnecting."""
        self._pending_playbacks: dict[str, str] = {}
        """playback id -> channel id of the prompt set playing now."""
        self._after_prompts: Action | None = None
        self._after_leaving_hold: Action | None = None
        self._playback_seq = 0
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._timer_tasks: set[asyncio.Task[None]] = set()

    # --- what the controller sees ------------------------------------------------------------

    @property
    def hold_bridge_id(self) -> str:
        return f"{self.call_id}-hold"

    @property
    def mixing_bridge_id(self) -> str:
        return f"{self.call_id}-bridge"

    @property
    def leg_ids(self) -> frozenset[str]:
        return frozenset(self._legs)

    @property
    def pending_timers(self) -> frozenset[str]:
        """Names of the timers running now (``menu``, ``ring``, ``accept``)."""
        return frozenset(self._timers)

    def summary(self) -> dict[str, object]:
        """A JSON-ready view of the call in progress (for the admin API)."""
        return {
            "call_id": self.call_id,
            "state": str(self.state),
            "dialled": self.dialled,
            "caller": self._caller_for_logs(),
            "language": self.language,
            "digits": list(self.digits),
            "rules_version": self.snapshot.version,
            "destination": self.record.destination,
            "age_s": round(time.monotonic() - self._started, 1),
        }

    async def start(self) -> None:
        """The caller entered the application: answer and carry out the first decision.

        The answer request goes out before anything else the call needs (the caller's form
        for the logs, the location, the first decision).
        """
        async with self._lock:
            failure: AriError | None = None
            try:
                await self.env.ari.answer(self.call_id)
            except AriError as exc:
                failure = exc
            with self._bound():
                await self._start(failure)
                await self._hand_back_if_stalled()

    async def handle(self, event: AriEvent) -> None:
        """One ARI event of this call (its caller, legs or playbacks), in arrival order."""
        started = time.perf_counter()
        async with self._lock:
            with self._bound():
                if self.state is not CallState.ENDED:
                    await self._dispatch(event)
                    await self._hand_back_if_stalled()
        self.env.metrics.event_seconds.labels(event.type).observe(time.perf_counter() - started)

    async def hand_back(self, reason: str) -> None:
        """Give the caller to the dialplan fallback context (draining, reconcile, error)."""
        async with self._lock:
            with self._bound():
                if self.state is CallState.ENDED:
                    return
                await self._hand_back(reason)

    async def resume(self, present: frozenset[str]) -> None:
        """After a reconnect, when events may have been missed while the socket was down.

        ``present`` are the channels Asterisk still holds for the application. A leg that is
        gone counts as a failed link; a prompt whose end may have been missed is stopped and
        the call goes on as if it had ended, so the caller is never left in silence.
        """
        async with self._lock:
            with self._bound():
                if self.state is CallState.ENDED:
                    return
                self._log.debug("call.resume", state=str(self.state))
                for leg in list(self._legs.values()):
                    if leg.channel_id not in present and not self._over():
                        await self._leg_gone(leg, None)
                if self._pending_playbacks and not self._over():
                    then = self._after_prompts
                    await self._stop_prompts()
                    if then is not None:
                        await then()
                await self._hand_back_if_stalled()

    async def _hand_back_if_stalled(self) -> None:
        """After each event, timer or resume: when nothing will move the call on (a request
        failed, say while Asterisk was away or its answer was lost), the dialplan fallback
        takes the caller instead of leaving them in silence."""
        if not self._over() and not self._waiting_for_something():
            self._log.warning("call.stalled", state=str(self.state))
            await self._hand_back("stalled")

    def _waiting_for_something(self) -> bool:
        """Whether an event or timer is due to move the call on."""
        return (
            self.state is CallState.BRIDGED
            or self._end_follows
            or bool(self._pending_playbacks)
            or bool(self._timers)
            or (self._current_leg is not None and self._current_leg in self._legs)
        )

    async def lost(self, reason: str) -> None:
        """Asterisk no longer holds the caller (restart): clean up what is left, end."""
        async with self._lock:
            with self._bound():
                self._caller_gone = True
                await self._end(reason)

    def _over(self) -> bool:
        return self.state is CallState.ENDED

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
        self._log = log.bind(call_id=self.call_id, caller=caller)

    # --- the state machine -------------------------------------------------------------------

    def _enter(self, new: CallState, why: str) -> None:
        check_transition(self.state, new)
        self._log.info("call.transition", **{"from": str(self.state)}, to=str(new), why=why)
        self.state = new

    async def _start(self, answer_failure: AriError | None) -> None:
        if answer_failure is not None:
            self._log.warning("call.answer_failed", error=str(answer_failure))
            if answer_failure.is_gone or answer_failure.is_conflict:
                self._caller_gone = True
                await self._end("caller_hangup")
                return
            await self._hand_back("answer_failed")
            return
        self._answered_at = time.monotonic()
        await self._read_location()
        await self._advance("answered")

    async def _read_location(self) -> None:
        """The location delivered with the call: from the StasisStart channel variables when
        Asterisk sends them (``channelvars`` in ari.conf), else asked for."""
        if self.channelvars is not None:
            raw = self.channelvars.get(LOCATION_VARIABLE)
        else:
            try:
                raw = await self.env.ari.get_variable(self.call_id, LOCATION_VARIABLE)
            except AriError:
                return
        if not raw:
            return
        lat_text, _, lon_text = raw.partition(",")
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            self._log.warning("call.location_malformed")
            return
        if math.isfinite(lat) and math.isfinite(lon):
            self.location = (lat, lon)

    def _context(self) -> CallContext:
        return CallContext(
            dialled=self.dialled,
            calling=self.calling,
            at=self.env.clock(),
            location=self.location,
            language=self.language,
            greeting_done=self.greeting_done,
            digits=tuple(self.digits),
        )

    async def _advance(self, why: str) -> None:
        """Ask the engine for the next step and carry it out."""
        started = time.perf_counter()
        try:
            decision = self.env.decide(self.snapshot, self._context())
        except Exception:
            # The engine promises never to raise; if it does, the dialplan fallback still
            # routes the caller instead of leaving them in silence.
            self._log.exception("call.decision_failed")
            await self._hand_back("decision_failed")
            return
        self.env.metrics.decision_seconds.observe(time.perf_counter() - started)
        self.record.note_decision(decision)
        step = decision.step
        self._log.debug("call.decision", step=type(step).__name__, why=why)
        if isinstance(step, PlayGreeting):
            self._greeting = step
            self._enter(CallState.GREETING, why)
            await self._play(self.call_id, step.prompts, self._greeting_finished)
        elif isinstance(step, OfferMenu):
            self._menu = step
            self._menu_answered = False
            self._enter(CallState.MENU, f"{why}: menu {step.menu_id} attempt {step.attempt}")
            await self._play(self.call_id, step.prompts, self._menu_prompted)
        elif isinstance(step, Transfer):
            await self._begin_transfer(step, why)
        else:
            await self._message(step, decision, why)

    async def _dispatch(self, event: AriEvent) -> None:
        channel = event_channel_id(event)
        if channel == self.call_id:
            await self._caller_event(event)
        elif channel is not None and channel in self._legs:
            await self._leg_event(self._legs[channel], event)

    async def _caller_event(self, event: AriEvent) -> None:
        match event:
            case ChannelDtmfReceived():
                await self._caller_key(event.digit)
            case PlaybackFinished():
                await self._playback_finished(event.playback.id)
            case ChannelHangupRequest() | ChannelDestroyed():
                self._caller_gone = True
                await self._end("caller_hangup")
            case StasisEnd():
                # Left the application without hanging up: the dialplan has the call now.
                self._caller_gone = True
                await self._end("left_application")
            case ChannelLeftBridge() if event.bridge.id == self.hold_bridge_id:
                await self._left_hold()
            case _:
                return

    async def _leg_event(self, leg: _Leg, event: AriEvent) -> None:
        match event:
            case StasisStart():
                await self._leg_answered(leg)
            case ChannelDtmfReceived():
                await self._leg_key(leg, event.digit)
            case PlaybackFinished():
                await self._playback_finished(event.playback.id)
            case ChannelDestroyed():
                await self._leg_gone(leg, event.cause)
            case ChannelHangupRequest() if leg.answered:
                await self._leg_gone(leg, event.cause)
            case StasisEnd() if leg.answered:
                await self._leg_gone(leg, None)
            case _:
                return

    # --- prompts ------------------------------------------------------------------------------

    async def _play(self, channel_id: str, prompts: Prompts, then: Action) -> None:
        """Play prompts (one playback per run of one language), then run ``then``."""
        await self._stop_prompts()
        runs: list[tuple[str, list[str]]] = []
        for prompt in prompts:
            uri = f"sound:ivr311/{prompt.id}"
            if runs and runs[-1][0] == prompt.language:
                runs[-1][1].append(uri)
            else:
                runs.append((prompt.language, [uri]))
        if not runs:
            await then()
            return
        self._after_prompts = then
        for language, media in runs:
            self._playback_seq += 1
            pb_id = playback_id(self.call_id, self._playback_seq)
            self._pending_playbacks[pb_id] = channel_id
            try:
                await self.env.ari.play(channel_id, pb_id, media, language)
            except AriError as exc:
                self._pending_playbacks.pop(pb_id, None)
                self._after_prompts = None
                if exc.is_gone or exc.is_conflict:
                    # The channel is gone or left the application; its end event follows.
                    self._end_follows = self._end_follows or channel_id == self.call_id
                    self._log.debug("call.play_failed", error=str(exc))
                else:
                    self._log.warning("call.play_failed", error=str(exc))
                return

    async def _playback_finished(self, playback_id: str) -> None:
        if self._pending_playbacks.pop(playback_id, None) is None:
            return
        if self._pending_playbacks:
            return
        then, self._after_prompts = self._after_prompts, None
        if then is not None:
            await then()

    async def _stop_prompts(self) -> None:
        pending = list(self._pending_playbacks)
        self._pending_playbacks.clear()
        self._after_prompts = None
        for playback_id in pending:
            try:
                await self.env.ari.stop_playback(playback_id)
            except AriError as exc:
                self._log.warning("call.stop_playback_failed", error=str(exc))

    # --- greeting and menus ---------------------------------------------------------------------

    async def _greeting_finished(self) -> None:
        self.greeting_done = True
        await self._advance("greeting heard")

    async def _caller_key(self, digit: str) -> None:
        if self.state is CallState.GREETING and self._greeting is not None:
            await self._stop_prompts()
            self.greeting_done = True
            self.env.metrics.greeting_skipped.inc()
            if digit == self._greeting.agent_key:
                self.digits.append(digit)
                self.env.metrics.zero_outs.labels("greeting").inc()
                why = "0 pressed during the greeting"
            elif digit in self._greeting.language_keys:
                self.language = self._greeting.language_keys[digit]
                self.record.language = self.language
                self.env.metrics.language_switches.labels(self.language).inc()
                why = f"language key {digit}: {self.language}"
            else:
                why = f"greeting skipped with {digit}"
            await self._advance(why)
        elif self.state is CallState.MENU and self._menu is not None and not self._menu_answered:
            self._menu_answered = True
            self._cancel_timer("menu")
            await self._stop_prompts()
            options = {o.digit for o in self._menu.options}
            outcome = "choice" if digit in options else "agent" if digit == "0" else "invalid"
            self.env.metrics.menu_outcomes.labels(outcome).inc()
            if outcome == "agent":
                self.env.metrics.zero_outs.labels("menu").inc()
            self.digits.append(digit)
            await self._advance(f"menu answer {digit}")

    async def _menu_prompted(self) -> None:
        if self._menu is None or self._menu_answered:
            return
        self._start_timer("menu", self._menu.timeout_s, self._menu_timeout)

    async def _menu_timeout(self) -> None:
        if self.state is not CallState.MENU or self._menu_answered:
            return
        self._menu_answered = True
        self.env.metrics.menu_outcomes.labels("timeout").inc()
        self.digits.append("")
        await self._advance("menu timeout")

    # --- transfer --------------------------------------------------------------------------------

    async def _begin_transfer(self, step: Transfer, why: str) -> None:
        self._transfer = step
        metrics = self.env.metrics
        target = step.chain[0].destination_id if step.chain else "message"
        metrics.route_decisions.labels(self.record.evidence or "default", target).inc()
        if step.kind == "after_hours":
            metrics.after_hours_calls.inc()
        self._enter(CallState.TRANSFER_HOLD, f"{why}: {step.kind} transfer to {target}")
        await self._play(self.call_id, step.announce, self._hold_and_dial)

    async def _hold_and_dial(self) -> None:
        ari = self.env.ari
        if self._transfer is not None and self._transfer.chain:
            no_music: AriError | None = None
            try:
                await ari.create_bridge(self.hold_bridge_id, "holding")
                self._bridges.append(self.hold_bridge_id)
                await ari.add_channels(self.hold_bridge_id, [self.call_id])
            except AriError as exc:
                if exc.is_gone or exc.is_bad_request:
                    self._log.warning("call.hold_failed", error=str(exc))
                    self._end_follows = True  # the caller is gone; the end event follows
                    return
                no_music = exc
            if no_music is None:
                try:
                    await ari.start_moh(
                        bridge_id=self.hold_bridge_id,
                        moh_class=self.env.settings.hold_music_class,
                    )
                except AriError as exc:
                    no_music = exc
            if no_music is not None and not await self._ring_instead_of_music(no_music):
                return
        await self._dial_next()

    async def _ring_instead_of_music(self, failure: AriError) -> bool:
        """Music on hold could not start (a module missing, a bridge refused...): the caller
        hears ringing while the destinations ring, never silence. Counted and logged once.
        Returns False when the caller turned out to be gone (their end event follows)."""
        ring_failure: AriError | None = None
        try:
            await self.env.ari.ring(self.call_id)
        except AriError as exc:
            ring_failure = exc
        # No answer at all: the ringing may have started, so it is stopped when hold ends.
        self._ringing = ring_failure is None or ring_failure.status is None
        fallback = "ringing" if ring_failure is None else "none"
        self.env.metrics.hold_music_failures.labels(fallback).inc()
        self._log.warning(
            "call.hold_music_failed",
            error=str(failure),
            status=failure.status,
            fallback=fallback,
            **({"fallback_error": str(ring_failure)} if ring_failure is not None else {}),
        )
        if ring_failure is not None and (ring_failure.is_gone or ring_failure.is_conflict):
            self._end_follows = True
            return False
        return True

    async def _stop_ringing(self) -> None:
        """End the ringing heard instead of music on hold (404: the caller is gone, done)."""
        if not self._ringing:
            return
        self._ringing = False
        if not self._caller_gone:
            await self._quietly(self.env.ari.stop_ringing(self.call_id))

    async def _dial_next(self) -> None:
        """Dial the next link of the chain, or play the final message when none is left."""
        assert self._transfer is not None
        chain = self._transfer.chain
        while True:
            self._link += 1
            if self._link >= len(chain):
                await self._final_message()
                return
            target = chain[self._link]
            if self._link > 0:
                self.env.metrics.fallbacks.labels("next_link").inc()
            leg_id = f"{self.call_id}-leg{self._link + 1}"
            self.env.register_leg(leg_id, self.call_id)
            leg = _Leg(leg_id, target, time.monotonic())
            self._legs[leg_id] = leg
            self._current_leg = leg_id
            self._enter(CallState.TRANSFER_RINGING, f"dialling {target.destination_id}")
            timeout_s = max(1, math.ceil(target.ring_timeout_s))
            try:
                await self.env.ari.originate(
                    leg_id,
                    dial_string(target.dial, self.env.settings.dial_endpoint),
                    app_args=(TRANSFER_ARG, self.call_id),
                    caller_id=target.caller_id or None,
                    timeout_s=timeout_s,
                    originator=self.call_id,
                )
            except AriError as exc:
                self._log.warning("call.originate_failed", error=str(exc), leg=leg_id)
                self._legs.pop(leg_id, None)
                self._attempt(leg, "failed")
                if exc.is_bad_request and self._caller_gone:
                    return
                continue
            grace_s = self.env.settings.ring_grace_s
            self._start_timer("ring", timeout_s + grace_s, self._ring_expired)
            return

    def _attempt(self, leg: _Leg, result: str) -> None:
        self.record.attempts.append(
            TransferAttempt(leg.target.destination_id, result, leg.ring_seconds())
        )
        self.env.metrics.transfers.labels(leg.target.destination_id, result).inc()
        self._log.debug(
            "call.transfer_attempt", destination=leg.target.destination_id, result=result
        )

    async def _ring_expired(self) -> None:
        leg = self._legs.get(self._current_leg or "")
        if leg is None or leg.answered or self.state is not CallState.TRANSFER_RINGING:
            return
        await self._drop_leg(leg, "no_answer")
        await self._dial_next()

    async def _drop_leg(self, leg: _Leg, result: str) -> None:
        """Give up on a leg: hang it up; if it is the current link, stop its whisper and timers."""
        self._legs.pop(leg.channel_id, None)
        self._attempt(leg, result)
        if leg.channel_id == self._current_leg:
            await self._stop_prompts()
            self._cancel_timer("accept")
            self._cancel_timer("ring")
        try:
            await self.env.ari.hangup(leg.channel_id)
        except AriError as exc:
            self._log.warning("call.hangup_leg_failed", error=str(exc))

    async def _leg_answered(self, leg: _Leg) -> None:
        if leg.channel_id != self._current_leg or self.state is not CallState.TRANSFER_RINGING:
            await self._drop_leg(leg, "late_answer")
            return
        self._cancel_timer("ring")
        leg.answered_at = time.monotonic()
        if self._answered_at is not None and self._transfer is not None:
            self.env.metrics.answer_to_person_seconds.labels(self._transfer.kind).observe(
                time.monotonic() - self._answered_at
            )
            self.record.durations["answer_to_person_s"] = round(
                time.monotonic() - self._answered_at, 3
            )
        self._enter(CallState.TRANSFER_WHISPER, f"{leg.target.destination_id} answered")
        await self._play(leg.channel_id, leg.target.whisper, self._whisper_done)

    async def _whisper_done(self) -> None:
        leg = self._legs.get(self._current_leg or "")
        if leg is None or self.state is not CallState.TRANSFER_WHISPER:
            return
        if leg.target.accept_key is None:
            await self._bridge(leg)
            return
        self._enter(CallState.TRANSFER_AWAITING_ACCEPT, "whisper played")
        self._start_timer("accept", self.env.settings.accept_timeout_s, self._accept_expired)

    async def _leg_key(self, leg: _Leg, digit: str) -> None:
        if leg.channel_id != self._current_leg or leg.target.accept_key is None:
            return
        if self.state not in (CallState.TRANSFER_WHISPER, CallState.TRANSFER_AWAITING_ACCEPT):
            return
        if digit == leg.target.accept_key:
            await self._stop_prompts()
            self._cancel_timer("accept")
            await self._bridge(leg)

    async def _accept_expired(self) -> None:
        leg = self._legs.get(self._current_leg or "")
        if leg is None or self.state is not CallState.TRANSFER_AWAITING_ACCEPT:
            return
        await self._drop_leg(leg, "not_accepted")
        await self._dial_next()

    async def _bridge(self, leg: _Leg) -> None:
        ari = self.env.ari
        try:
            await ari.create_bridge(self.mixing_bridge_id, "mixing")
            self._bridges.append(self.mixing_bridge_id)
            await ari.add_channels(self.mixing_bridge_id, [self.call_id, leg.channel_id])
        except AriError as exc:
            # One of the legs is gone; its end event decides what happens next.
            self._log.warning("call.bridge_failed", error=str(exc))
            return
        await self._stop_ringing()
        if self.hold_bridge_id in self._bridges:
            self._bridges.remove(self.hold_bridge_id)
            await self._quietly(ari.destroy_bridge(self.hold_bridge_id))
        self._attempt(leg, "answered")
        self.record.destination = leg.target.destination_id
        self._bridged_at = time.monotonic()
        self._enter(CallState.BRIDGED, f"connected to {leg.target.destination_id}")

    async def _leg_gone(self, leg: _Leg, cause: int | None) -> None:
        self._legs.pop(leg.channel_id, None)
        if self.state is CallState.BRIDGED:
            self._log.debug("call.destination_hung_up")
            await self._end("completed", hang_up_caller=True)
            return
        if leg.channel_id != self._current_leg:
            return
        self._cancel_timer("ring")
        self._cancel_timer("accept")
        if leg.answered:
            await self._stop_prompts()
            result = "not_accepted"
        else:
            result = Q850_RESULTS.get(cause or 0, "failed")
        self._attempt(leg, result)
        await self._dial_next()

    async def _final_message(self) -> None:
        assert self._transfer is not None
        self.env.metrics.fallbacks.labels("final_message").inc()
        await self._stop_ringing()
        self.record.destination = self.record.destination if not self._transfer.chain else None
        self._enter(CallState.MESSAGE, "no link of the chain connected")
        if self.hold_bridge_id not in self._bridges:
            await self._play_final_message()
            return
        # Asterisk takes the caller out of a destroyed bridge asynchronously, and a prompt
        # requested before the caller is out is queued to the bridge and lost with it: the
        # message waits for ChannelLeftBridge (or, should that event not come, a short timer).
        self._bridges.remove(self.hold_bridge_id)
        self._after_leaving_hold = self._play_final_message
        self._start_timer("left_hold", LEAVING_HOLD_WAIT_S, self._left_hold)
        await self._quietly(self.env.ari.destroy_bridge(self.hold_bridge_id))

    async def _play_final_message(self) -> None:
        assert self._transfer is not None
        await self._play(self.call_id, self._transfer.final_message, self._message_done)

    async def _left_hold(self) -> None:
        self._cancel_timer("left_hold")
        then, self._after_leaving_hold = self._after_leaving_hold, None
        if then is not None:
            await then()

    async def _message(self, step: PlayMessage, decision: Decision, why: str) -> None:
        self.record.kind = self.record.kind or "message"
        if decision.after_hours:
            self.env.metrics.after_hours_calls.inc()
        self._enter(CallState.MESSAGE, why)
        then = self._message_done if step.then_hangup else self._message_then_dialplan
        await self._play(self.call_id, step.prompts, then)

    async def _message_done(self) -> None:
        await self._end("message", hang_up_caller=True)

    async def _message_then_dialplan(self) -> None:
        await self._hand_back("message_then_dialplan")

    # --- timers ---------------------------------------------------------------------------

    def _start_timer(self, name: str, delay_s: float, action: Action) -> None:
        self._cancel_timer(name)
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            task = loop.create_task(self._on_timer(name, handle, action))
            self._timer_tasks.add(task)
            task.add_done_callback(self._timer_tasks.discard)

        handle = loop.call_later(delay_s, fire)
        self._timers[name] = handle

    async def _on_timer(
        self, name: str, handle: asyncio.TimerHandle | None, action: Action
    ) -> None:
        started = time.perf_counter()
        async with self._lock:
            with self._bound():
                if self._timers.get(name) is not handle or self.state is CallState.ENDED:
                    return  # cancelled or replaced while this task waited for the lock
                del self._timers[name]
                self._log.debug("call.timer_expired", timer=name)
                await action()
                await self._hand_back_if_stalled()
        self.env.metrics.event_seconds.labels(f"timer.{name}").observe(
            time.perf_counter() - started
        )

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    # --- the end --------------------------------------------------------------------------

    async def _hand_back(self, reason: str) -> None:
        self.env.metrics.handed_back.labels(reason).inc()
        await self._release_resources()
        if not self._caller_gone:
            try:
                await self.env.ari.continue_in_dialplan(
                    self.call_id, self.env.settings.fallback_context, self.dialled, 1
                )
                self._caller_gone = True
            except AriError as exc:
                self._log.warning("call.continue_failed", error=str(exc))
                if not (exc.is_gone or exc.is_conflict):
                    self.hand_back_unconfirmed = reason
        await self._end(f"handed_back:{reason}")

    async def _release_resources(self) -> None:
        """Cancel timers, stop playbacks and ringing, hang up legs and destroy bridges
        (404 = done)."""
        for name in list(self._timers):
            self._cancel_timer(name)
        current = asyncio.current_task()
        for task in list(self._timer_tasks):
            if task is not current:
                task.cancel()
        if self._caller_gone:
            self._pending_playbacks = {
                pb: ch for pb, ch in self._pending_playbacks.items() if ch != self.call_id
            }
        await self._stop_prompts()
        await self._stop_ringing()
        ari = self.env.ari
        for leg_id in list(self._legs):
            self._legs.pop(leg_id, None)
            await self._quietly(ari.hangup(leg_id))
        for bridge_id in self._bridges:
            await self._quietly(ari.destroy_bridge(bridge_id))
        self._bridges.clear()

    async def _end(self, outcome: str, *, hang_up_caller: bool = False) -> None:
        if self.state is CallState.ENDED:
            return
        was = self.state
        self._enter(CallState.ENDED, outcome)
        if was in TRANSFERRING and self._current_leg is not None:
            leg = self._legs.get(self._current_leg)
            if leg is not None and outcome == "caller_hangup":
                self._attempt(leg, "caller_hangup")
                self._legs.pop(leg.channel_id, None)
                await self._quietly(self.env.ari.hangup(leg.channel_id))
        await self._release_resources()
        if hang_up_caller and not self._caller_gone:
            await self._quietly(self.env.ari.hangup(self.call_id))
        now = time.monotonic()
        self.record.outcome = outcome if was is not CallState.BRIDGED else "completed"
        if was is CallState.MENU and outcome == "caller_hangup":
            self.env.metrics.menu_outcomes.labels("hangup").inc()
        if outcome == "caller_hangup" and was not in (CallState.BRIDGED, CallState.MESSAGE):
            # Hung up before reaching a person or a message: abandoned, by the stage it was in.
            self.env.metrics.calls_abandoned.labels(abandonment_stage(was)).inc()
        self.record.digits = tuple(self.digits)
        self.record.durations["total_s"] = round(now - self._started, 3)
        if self._bridged_at is not None:
            self.record.durations["bridged_s"] = round(now - self._bridged_at, 3)
        self._log.info("call.decision_record", ended_in=str(was), **self.record.as_json())
        self.env.metrics.calls_ended.labels(self.record.outcome.partition(":")[0]).inc()
        self.ended.set()
        self.env.on_end(self)

    async def _quietly(self, request: Awaitable[object]) -> None:
        try:
            await request
        except AriError as exc:
            self._log.warning("call.cleanup_failed", error=str(exc))
