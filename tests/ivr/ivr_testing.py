"""Helpers for the controller tests: settings with small timings, a controller on the simulated
switch, callers, waiting, a record store that stops answering."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from virtual_clock import VirtualClock

from ivr.call import Call
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from ivr.records import CallRecords
from ivr.settings import Settings, load_settings
from routing_rules.decision import CallContext, OfferMenu, Transfer
from routing_rules.engine import decide
from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.call_records import (
    CallAttemptRow,
    CallRecordRow,
    CallRecordStore,
    StoredCall,
)
from routing_rules.storage.store import RuleStore
from switchsim import ChannelRecord, FakeAri, FakeSwitch, Outcome
from switchsim.simulation import simulated_controller
from switchsim.traffic import prompts_heard

TIMEOUT_S = 10.0
GREETING = "sound:ivr311/greeting"
BUSINESS_HOURS = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("America/Toronto"))
"""10:00 on a Wednesday: the Durham demo's contact centres are open."""

LogLines = list[MutableMapping[str, Any]]
"""Log lines as structlog's `LogCapture` keeps them (the ``logged`` fixture)."""


def fast_settings(**overrides: Any) -> Settings:
    """Small timings, and transfers carried out over ARI, whose steps these tests follow one by
    one (`test_dialplan_transfers` asks for the dialplan's)."""
    values: dict[str, Any] = {
        "transfers": "application",
        "accept_timeout_s": 0.5,
        "ring_grace_s": 0.5,
        "drain_timeout_s": 0.5,
        "reconnect_initial_s": 0.01,
        "reconnect_max_s": 0.05,
        "rules_poll_s": 0.05,
        "http_listen": "127.0.0.1:0",
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


@dataclass
class Harness:
    fake: FakeAri
    controller: Controller
    snapshot: RuleSnapshot
    clock: list[datetime]
    timers: VirtualClock
    """The clock of the calls' timers."""
    patience_s: float = TIMEOUT_S
    """How long a wait on the switch or a call may take before the test fails: only a bound
    for a test that would otherwise hang, never what a test measures."""

    @property
    def switch(self) -> FakeSwitch:
        return self.fake.switch

    def call(self, calling: str, dialled: str = "311", **kwargs: Any) -> str:
        return self.switch.place_call(dialled, calling, **kwargs)

    def record(self, channel_id: str) -> ChannelRecord:
        return self.switch.record(channel_id)

    async def until(
        self,
        predicate: Callable[[], bool],
        timeout_s: float | None = None,
        *,
        channel_id: str | None = None,
    ) -> None:
        """Wait until ``predicate`` holds; re-checked on every change in the switch, or, with
        ``channel_id``, on every change of that channel (`FakeSwitch.wait_for`)."""
        await self.switch.wait_for(predicate, timeout_s or self.patience_s, channel_id=channel_id)

    async def in_greeting(self, call_id: str) -> None:
        """Wait until the caller hears the greeting."""
        record = self.record(call_id)
        await self.until(
            lambda: any(GREETING in p.media and p.state == "playing" for p in record.plays),
            channel_id=call_id,
        )

    async def skip_greeting(self, call_id: str, key: str = "1") -> None:
        """Wait until the caller hears the greeting, then press ``key``."""
        await self.in_greeting(call_id)
        self.switch.press(call_id, key)

    async def inside_caller_past_greeting(self) -> str:
        """A caller whose number is routed to agents over one link (`inside_number`), past
        the greeting (skipped with a key): the call's id."""
        call_id = self.call(inside_number(self.snapshot))
        await self.skip_greeting(call_id)
        return call_id

    async def expire(self, call_id: str, timer: str) -> float:
        """Let the call's ``timer`` run out: wait until it runs, then move the timers' clock to
        when it expires. Returns how long the timer ran for."""
        call = self.live(call_id)
        await self.timers.wait_for(lambda: timer in call.pending_timers)
        lasts = call.pending_timers[timer] - self.timers.now
        self.timers.advance(lasts)
        return lasts

    def requests_for(self, channel_id: str, what: str, method: str = "POST") -> int:
        """How many ``method`` requests the switch took on the channel's ``what`` path
        (``answer``, ``variable``, ``play/...``)."""
        path = f"/ari/channels/{channel_id}/{what}"
        return sum(1 for r in self.fake.requests if r.method == method and r.path.startswith(path))

    def heard(self, call_id: str) -> list[str]:
        """Prompt ids the channel heard (started playbacks), in order."""
        return [prompt.id for prompt in prompts_heard(self.record(call_id))]

    def live(self, call_id: str) -> Call:
        return self.controller.calls[call_id]

    def state_is(self, call_id: str, state: str) -> Callable[[], bool]:
        def check() -> bool:
            call = self.controller.calls.get(call_id)
            return call is not None and str(call.state) == state

        return check

    async def ended(self, call_id: str) -> dict[str, Any]:
        """Wait for the call's end; returns its decision record."""
        call = self.controller.calls.get(call_id)
        if call is not None:
            await self.wait(call.ended.wait())
        return next(
            dict(d) for d in self.controller.recent_decisions(1000) if d["call_id"] == call_id
        )

    async def wait(self, awaitable: Any) -> Any:
        import asyncio

        return await asyncio.wait_for(awaitable, self.patience_s)

    def nothing_left(self) -> bool:
        """No channel, bridge or playback left in the switch."""
        s = self.switch
        return not s.channels and not s.bridges and not s.playbacks

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.controller.metrics.registry.get_sample_value(name, labels or {})
        return value or 0.0


@asynccontextmanager
async def running_harness(
    durham: RuleSnapshot,
    store: RuleStore | None = None,
    records: CallRecords | None = None,
    settings: Settings | None = None,
    *,
    event_log: bool = True,
) -> AsyncIterator[Harness]:
    """A controller with the rules ``durham`` on a fresh simulated switch, at 10:00 on a
    Wednesday; contact centres answer at once and press 1 after the whisper. The greeting
    plays until a key skips it; every other prompt takes 20 ms. The calls' timers run on a
    virtual clock: they run out only when the test says so (`Harness.expire`). Its rules
    source is backed by ``store`` when given (so its call records go there, unless
    ``records`` says otherwise), else fixed; ``settings`` default to `fast_settings`; without
    ``event_log`` the switch keeps no log of its events (thousands of calls)."""
    metrics = Metrics()
    clock = [BUSINESS_HOURS]
    timers = VirtualClock()
    switch = FakeSwitch(
        playback_s=0.02,
        media_durations={GREETING: 60.0},
        default_outcome=Outcome(kind="answer", press="1"),
        event_log=event_log,
    )
    rules = (
        RulesSource.fixed(durham, metrics)
        if store is None
        else RulesSource(store, metrics=metrics, snapshot=durham)
    )
    async with simulated_controller(
        settings or fast_settings(),
        rules,
        switch=switch,
        clock=lambda: clock[0],
        scheduler=timers,
        records=records,
        extra_observers=(lambda _transition: switch.recheck(),),  # for `Harness.state_is`
    ) as (fake, controller):
        yield Harness(fake, controller, durham, clock, timers)


def records_in(
    sink: CallRecordStore,
    metrics: Metrics,
    capacity: int,
    scheduler: VirtualClock | None = None,
) -> CallRecords:
    """Call records kept ``400`` days, written to ``sink`` through a queue of ``capacity``;
    the writer pauses between retries on ``scheduler`` (default: the event loop)."""
    return CallRecords(
        sink,
        metrics,
        capacity=capacity,
        retention_days=400,
        clock=lambda: BUSINESS_HOURS,
        scheduler=scheduler,
    )


def stored_rows(store: RuleStore) -> dict[str, dict[str, Any]]:
    """Every stored call by call id, with its attempts in order (``attempt_rows``)."""
    with store.engine.connect() as conn:
        calls = [dict(r._mapping) for r in conn.execute(select(CallRecordRow))]
        attempts = conn.execute(
            select(CallAttemptRow).order_by(CallAttemptRow.record_id, CallAttemptRow.seq)
        )
        by_call: dict[int, list[dict[str, Any]]] = {}
        for attempt in attempts:
            by_call.setdefault(attempt.record_id, []).append(dict(attempt._mapping))
    for call in calls:
        call["attempt_rows"] = by_call.get(call["id"], [])
    return {call["call_id"]: call for call in calls}


class FailingStore(CallRecordStore):
    """A database that refuses every write (connection refused) while ``down``."""

    def __init__(self, store: RuleStore) -> None:
        super().__init__(store)
        self.down = True
        self.refused = threading.Event()

    def is_down(self) -> bool:
        return self.down

    def write(self, calls: list[StoredCall]) -> None:
        if self.is_down():
            self.refused.set()
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        super().write(calls)


class HungStore(CallRecordStore):
    """A database that stops answering: writes wait until ``gate`` opens (``waiting`` is set
    once one does), at most ``timeout_s``."""

    def __init__(self, store: RuleStore, timeout_s: float) -> None:
        super().__init__(store)
        self.timeout_s = timeout_s
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def write(self, calls: list[StoredCall]) -> None:
        self.waiting.set()
        if not self.gate.wait(timeout=self.timeout_s):
            raise TimeoutError("the test never opened the gate")
        super().write(calls)


def number_with(snapshot: RuleSnapshot, want: Callable[[Any], bool]) -> str:
    """A calling number (NPA-NXX of a served exchange + 0123) whose first decision after the
    greeting satisfies ``want``."""
    at = datetime.fromisoformat("2026-11-18T10:00:00-05:00")
    codes = snapshot.geo.npa_nxx_by_exchange()
    for exchange in snapshot.rules.exchanges:
        for code in codes.get(exchange, ())[:1]:
            number = f"{code}0123"
            ctx = CallContext(dialled="311", calling=number, at=at, greeting_done=True)
            if want(decide(snapshot, ctx).step):
                return number
    raise LookupError("no demo number fits")


def inside_number(snapshot: RuleSnapshot) -> str:
    return number_with(
        snapshot, lambda s: isinstance(s, Transfer) and s.kind == "agent" and len(s.chain) == 1
    )


def menu_number(snapshot: RuleSnapshot) -> str:
    return number_with(snapshot, lambda s: isinstance(s, OfferMenu))


def fallback_choice(snapshot: RuleSnapshot, number: str) -> tuple[str, Transfer]:
    """The menu digit whose transfer has at least two links, and that transfer."""
    at = datetime.fromisoformat("2026-11-18T10:00:00-05:00")
    ctx = CallContext(dialled="311", calling=number, at=at, greeting_done=True)
    menu = decide(snapshot, ctx).step
    assert isinstance(menu, OfferMenu)
    for option in menu.options:
        step = decide(snapshot, replace(ctx, digits=(option.digit,))).step
        if isinstance(step, Transfer) and len(step.chain) >= 2:
            return option.digit, step
    raise LookupError("no menu option with a fallback chain")
