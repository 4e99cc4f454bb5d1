"""The controller process: the ARI event stream, one `Call` per inbound call, reconcile, drain.

Events are routed to calls by channel: the caller's channel id is the call id, and each
originated leg is registered to its call before it is dialled, so the `CallDispatcher` runs one
call's events in order and different calls concurrently. After every (re)connect the controller
reconciles with what Asterisk still holds for the application (`ivr.controller.reconcile`): a
StasisStart for a channel the reconcile started its call for already is ignored, so nobody is
answered twice. Channels the controller hands to the dialplan fallback context itself, and
callers handed back while Asterisk did not answer, are kept by `ivr.controller.hand_backs`.
The calls, their legs, the conversations adopted at reconcile and those hand-backs are one
`ChannelRegistry` (`ivr.controller.registry`), built once and shared with the reconcile.
Draining (`ivr.controller.drain`) hands new calls to the fallback context at once and gives
calls in progress the drain timeout to finish.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from dialplan.options import DialplanOptions
from geo.calling_number import redact_calling_number
from ivr.ari import AriClient, AriError, AriEventStream, Backoff, CallDispatcher
from ivr.ari.events import (
    ApplicationReplaced,
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    event_channel_id,
    event_type,
)
from ivr.ari.socket_requests import SocketRequests
from ivr.call import (
    TRANSFER_ARG,
    Call,
    CallEnvironment,
    LoopScheduler,
    Scheduler,
    StatePersistor,
    standard_observers,
)
from ivr.call.ids import INBOUND_ARG
from ivr.call.observers import Observer
from ivr.controller.call_setup import call_settings, records_in_store
from ivr.controller.conversations import AdoptedConversations
from ivr.controller.dialplan_sync import DialplanSync
from ivr.controller.drain import Drain, DrainStatus
from ivr.controller.hand_backs import HandBacks
from ivr.controller.reconcile import Reconciler
from ivr.controller.registry import ChannelRegistry
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from ivr.open311.lookups import StatusLookups
from ivr.records import CallRecords
from ivr.settings import Settings
from routing_rules.decision import Decision
from routing_rules.engine import decide as engine_decide
from routing_rules.simulate import host_zone
from routing_rules.storage.store import RuleStore

log = structlog.get_logger(__name__)

EVENTS_ACTED_ON = frozenset(
    event_type(model)
    for model in (
        StasisStart,
        StasisEnd,
        ChannelDtmfReceived,
        PlaybackFinished,
        ChannelHangupRequest,
        ChannelDestroyed,
        ApplicationReplaced,
    )
)
"""The event types a call or the controller acts on: the application's event filter lets
only these through. Every other event (playback started, channel state, dial progress, a
channel entering or leaving a bridge...) is neither serialised and sent by Asterisk nor parsed
here: about half of a transferred call's events."""


def freeze_long_lived_objects() -> None:
    """Once at start-up, before any call: keep what lives as long as the process (modules,
    settings, the first rule set) out of the garbage collector's full passes. Those stop the
    event loop, so every call, for as long as they take: with 1,000 calls in progress about
    25 ms instead of about 120 ms."""
    gc.collect()
    gc.freeze()


class Controller:
    """One controller connected to one Asterisk (or the simulated switch).

    ``async with Controller(...) as c: await c.run_until(stop)``; it also satisfies
    `ivr.controller.http.ControllerState`.
    """

    def __init__(
        self,
        settings: Settings,
        rules: RulesSource,
        *,
        metrics: Metrics | None = None,
        decide: Callable[..., Decision] = engine_decide,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_pending_per_call: int = 64,
        scheduler: Scheduler | None = None,
        records: CallRecords | None = None,
        extra_observers: Sequence[Observer] = (),
    ) -> None:
        """``scheduler`` runs the calls' timers (default: the event loop); ``records`` stores
        the records of ended calls (default: in the rule store, when there is one);
        ``extra_observers`` are told of every call's transitions after the controller's own
        (tests wait on them)."""
        if settings.ari_url is None:
            raise ValueError("the controller needs IVR311_ARI_URL (the simulated switch's URL)")
        self.settings = settings
        self.rules = rules
        self._metrics = metrics or rules.metrics
        password = settings.ari_password.get_secret_value() if settings.ari_password else ""
        user = settings.ari_user or ""
        socket = (
            SocketRequests(settle_timeout_s=settings.ari_timeout_s)
            if settings.ari_requests == "socket"
            else None
        )
        self.ari = AriClient(
            settings.ari_url,
            user,
            password,
            settings.ari_app,
            timeout_s=settings.ari_timeout_s,
            count_request=self._metrics.count_ari_request,
            socket=socket,
        )
        self.stream = AriEventStream(
            settings.ari_url,
            user,
            password,
            settings.ari_app,
            backoff=Backoff(initial_s=settings.reconnect_initial_s, cap_s=settings.reconnect_max_s),
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            stable_after_s=1.0,
            count_event=self._metrics.count_ari_event,
            requests=socket,
        )
        self.dispatcher = CallDispatcher(
            self._handle, key_for=self._key_for, max_pending=max_pending_per_call
        )
        self.persistor = StatePersistor(self.ari, settings.state_variable)
        """Writes each call's state to its caller's channel, for a restarted controller."""
        self.status_lookups = StatusLookups()
        """Asks municipalities' Open311 servers for callers' request statuses."""
        scheduler = scheduler or LoopScheduler()
        self._env = CallEnvironment(
            ari=self.ari,
            metrics=self._metrics,
            settings=call_settings(settings),
            decide=decide,
            register_leg=self._register_leg,
            on_end=self._call_ended,
            clock=clock,
            redact=self._redact,
            scheduler=scheduler,
            observers=(*standard_observers(self._metrics), self.persistor, *extra_observers),
            state_written=self.persistor.written,
            status_lookup=self.status_lookups,
        )
        self.records = records or records_in_store(
            rules.store, self._metrics, settings, clock, scheduler
        )
        """Stores each ended call's record, off the call path (`ivr.records`)."""
        self._closing = False
        """Closing: events are left to the next controller."""
        idle = asyncio.Event()
        idle.set()
        self._registry = ChannelRegistry(
            calls={},
            legs={},
            conversations=AdoptedConversations(self.ari),
            hand_backs=HandBacks(
                self.ari,
                self._metrics,
                settings.fallback_context,
                settled=lambda: self._registry.update_idle(),
            ),
            idle=idle,
        )
        self._metrics.active_calls.set_function(lambda: len(self._registry.calls))
        self._decisions: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=settings.recent_decisions
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._drain = Drain(self._registry.calls, self._registry.idle, settings.drain_timeout_s)
        self._reconciler = Reconciler(
            self._env,
            self._registry,
            rules=rules,
            drain=self._drain,
            state_variable=self.persistor.variable,
            inbound=self._inbound,
            spawn=self._spawn,
        )
        self._reader: asyncio.Task[None] | None = None
        self.reconciled = asyncio.Event()
        """Set after each reconcile (tests wait on it)."""
        self.replaced = asyncio.Event()
        """Set when Asterisk said another client took this application (an alarm)."""
        self.dialplan: DialplanSync | None = None
        """Rewrites and reloads IVR311_DIALPLAN_FILE for each active rule version (when set)."""
        if settings.dialplan_file is not None:
            self.dialplan = DialplanSync(
                settings.dialplan_file,
                DialplanOptions(
                    app=settings.ari_app,
                    dial_endpoint=settings.dial_endpoint,
                    fallback_context=settings.fallback_context,
                    state_variable=settings.state_variable,
                ),
                reload_module=self.ari.reload_module,
                metrics=self._metrics,
            )
        self._dialplan_task: asyncio.Task[None] | None = None

    @property
    def calls(self) -> dict[str, Call]:
        """The calls in progress, by their caller's channel (`ChannelRegistry.calls`)."""
        return self._registry.calls

    # --- ControllerState -------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def rule_store(self) -> RuleStore | None:
        return self.rules.store

    @property
    def ari_connected(self) -> bool:
        """Connected and still the application's owner (ApplicationReplaced means another
        client gets the calls now, so this controller must not report ready)."""
        return self.stream.connected and not self.replaced.is_set()

    @property
    def rules_loaded(self) -> bool:
        return self.rules.loaded

    @property
    def draining(self) -> bool:
        return self._drain.started

    @property
    def rules_version(self) -> int | None:
        return self.rules.current.version if self.rules.current is not None else None

    def live_calls(self) -> list[Mapping[str, Any]]:
        return [call.summary() for call in self._registry.calls.values()]

    def recent_decisions(self, limit: int = 50) -> list[Mapping[str, Any]]:
        newest_first: list[Mapping[str, Any]] = list(reversed(self._decisions))
        return newest_first[:limit]

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Controller:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Start reading events (connecting and reconnecting in the background) and, with
        IVR311_DIALPLAN_FILE set, keeping the dialplan in step with the active rules."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_events(), name="ari-events")
        if self.records is not None:
            self.records.start()
        if self.dialplan is not None and self._dialplan_task is None:
            self._dialplan_task = asyncio.create_task(
                self.dialplan.follow(self.rules), name="dialplan-sync"
            )

    async def close(self) -> None:
        """Stop at once: no drain (see `drain`). The calls stop where they stand once the
        requests of the step under way are answered, so none of this controller's requests
        reaches Asterisk after it is closed (a controller started next takes the calls over).
        The event socket stays open until then, for the answers to requests made on it; the
        events it brings meanwhile are left to the next controller."""
        self._closing = True
        await self.dispatcher.aclose()
        await asyncio.gather(*(call.close() for call in list(self._registry.calls.values())))
        await self.stream.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._dialplan_task is not None:
            self._dialplan_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dialplan_task
            self._dialplan_task = None
        self._drain.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.persistor.close()
        await self.status_lookups.close()
        if self.records is not None:
            await self.records.close()
        await self.ari.close()

    async def wait_idle(self) -> None:
        """Wait until no call is in progress (nor a hand-back still to confirm)."""
        await self._registry.idle.wait()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Take no new calls; let calls in progress end within the drain timeout, then hand the
        ones still in the IVR to the fallback context (bridged conversations stay up).

        There is one drain per controller (`start_drain`): a drain already started (by the
        admin API) is awaited as it is, its timeout counted from when it began."""
        await self.start_drain(timeout_s)

    def start_drain(self, timeout_s: float | None = None) -> asyncio.Task[None]:
        """Start the drain unless it started already; returns it (see `ivr.controller.drain`)."""
        return self._drain.start(timeout_s)

    def drain_status(self) -> DrainStatus:
        return self._drain.status()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- events ------------------------------------------------------------------------------

    async def _read_events(self) -> None:
        async for event in self.stream:
            self._on_event(event)

    def _on_event(self, event: AriEvent) -> None:
        if self._closing:
            return
        if isinstance(event, ApplicationReplaced):
            self._metrics.application_replaced.inc()
            self.replaced.set()
            log.error("controller.application_replaced", app=self.settings.ari_app)
            return
        if isinstance(event, StasisStart) and event.args[:1] == (INBOUND_ARG,):
            self._inbound(event)
            return
        channel = event_channel_id(event)
        if (
            channel is not None
            and channel in self._registry.hand_backs
            and isinstance(event, ChannelDestroyed | StasisEnd)
        ):
            self._registry.hand_backs.forget(channel)
            self._registry.update_idle()
            return
        if channel is not None and channel in self._registry.conversations:
            self._spawn(self._registry.conversations.on_event(channel, event))
            return
        if self.dispatcher.dispatch(event):
            return
        if isinstance(event, ChannelDtmfReceived) and self._key_for(event) is not None:
            self._metrics.dtmf_dropped.inc()

    def _key_for(self, event: AriEvent) -> str | None:
        if isinstance(event, StasisStart) and event.args[:1] == (TRANSFER_ARG,):
            call_id = event.args[1] if len(event.args) > 1 else None
            return call_id if call_id in self._registry.calls else None
        channel = event_channel_id(event)
        if channel is None:
            return None
        if channel in self._registry.calls:
            return channel
        return self._registry.legs.get(channel)

    def _inbound(self, event: StasisStart) -> Call | None:
        """Start the call of a caller entering the application (or hand them to the fallback
        context while draining or without rules); returns the call started."""
        channel = event.channel
        if channel.id in self._registry.calls:
            # Reconcile started this call already from the channel, while its StasisStart
            # waited on the new socket: one call per channel, answered once.
            log.info("controller.stasis_start_known", channel=channel.id)
            return None
        dialled = event.args[1] if len(event.args) > 1 else channel.dialplan.exten
        self._metrics.calls_offered.labels(dialled).inc()
        snapshot = self.rules.current
        if self.draining or snapshot is None:
            reason = "draining" if self.draining else "no_rules"
            self._spawn(self._registry.hand_backs.continue_unknown(channel.id, dialled, reason))
            return None
        call = Call(
            call_id=channel.id,
            dialled=dialled,
            calling=channel.caller.number or None,
            snapshot=snapshot,
            env=self._env,
            channelvars=channel.channelvars,
        )
        self._registry.add_call(call)
        self.dispatcher.submit(call.call_id, event)
        return call

    def _redact(self, calling: str | None) -> str:
        return redact_calling_number(calling, self.settings.hash_key())

    async def _handle(self, key: str, event: AriEvent) -> None:
        call = self._registry.calls.get(key)
        if call is None:
            return
        if isinstance(event, StasisStart) and event.channel.id == call.call_id:
            await call.start(answered=event.channel.state == "Up")
        else:
            await call.handle(event)

    def _register_leg(self, leg_id: str, call_id: str) -> None:
        self._registry.legs[leg_id] = call_id

    def _call_ended(self, call: Call) -> None:
        self._registry.remove_call(call.call_id)
        self._decisions.append(call.record.as_json())
        if self.records is not None:
            self.records.submit(call.record, host_zone(call.snapshot))
        if call.hand_back_unconfirmed is not None:
            self._registry.hand_backs.unconfirmed(
                call.call_id, call.dialled, call.hand_back_unconfirmed
            )
        self._registry.update_idle()

    # --- connection and reconcile ------------------------------------------------------------

    async def _on_connect(self) -> None:
        self._metrics.ari_connected.set(1)
        if self.stream.connects > 1:
            self._metrics.reconnects.inc()
        try:
            await self.ari.filter_events(EVENTS_ACTED_ON)
        except AriError as exc:
            # an Asterisk without event filtering sends every event; the unknown ones are
            # parsed as UnknownEvent and ignored, as before
            log.info("controller.event_filter_refused", error=exc.message)
        try:
            await self._reconciler.run()
            self._registry.update_idle()
        finally:
            self.reconciled.set()

    async def _on_disconnect(self) -> None:
        self._metrics.ari_connected.set(0)
        self.reconciled.clear()
