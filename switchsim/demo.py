"""``ivr311 demo``: a scripted tour of the controller on the simulated switch.

Each stop places one call, lets it run to its end and prints what the caller heard and pressed,
whom they reached, and the decision trace: a caller from an exchange inside one municipality, a
caller from a shared exchange who picks from the menu, a caller who presses 0, a call after
hours, and a contact centre that does not answer so the fallback chain takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import TextIO
from zoneinfo import ZoneInfo

from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from ivr.settings import Settings
from routing_rules.decision import CallContext, OfferMenu, Transfer
from routing_rules.engine import decide
from routing_rules.snapshot import RuleSnapshot, load_snapshot
from switchsim import FakeAri, FakeSwitch, Outcome
from switchsim.simulation import DESTINATION_ANSWERS, simulated_controller
from switchsim.traffic import ScriptedCall, describe_call, play_call

HANG_UP_AFTER_S = 5.0
"""Callers of the tour hang up this long after calling (after talking to the centre)."""


@dataclass(frozen=True)
class Stop:
    """One call of the tour."""

    title: str
    call: ScriptedCall
    at: datetime
    unanswered: tuple[str, ...] = ()
    """Dial strings (E.164) of destinations that ring out for this stop."""


def _business_time(snapshot: RuleSnapshot, hour: int) -> datetime:
    """The next weekday (not a statutory holiday) at ``hour`` in the host's time zone."""
    rules = snapshot.rules
    zone = ZoneInfo(rules.schedules[rules.host.schedule].timezone)
    day = datetime(2026, 11, 18, tzinfo=zone).date()  # a Wednesday with no holiday
    return datetime.combine(day, time(hour, 0), tzinfo=zone)


def _first_code(snapshot: RuleSnapshot, exchange_id: str) -> str | None:
    codes = snapshot.geo.npa_nxx_by_exchange().get(exchange_id, ())
    return codes[0] if codes else None


def _with_fallback(snapshot: RuleSnapshot, codes: Sequence[str], at: datetime) -> Stop | None:
    """A caller whose route has a second link, so a first centre that rings out shows the chain."""
    for code in codes:
        number = f"{code}0789"
        ctx = CallContext(dialled="311", calling=number, at=at, greeting_done=True)
        step = decide(snapshot, ctx).step
        choices: list[tuple[str, Transfer]] = []
        if isinstance(step, Transfer):
            choices.append(("", step))
        elif isinstance(step, OfferMenu):
            for option in step.options:
                chosen = decide(snapshot, replace(ctx, digits=(option.digit,))).step
                if isinstance(chosen, Transfer):
                    choices.append((option.digit, chosen))
        for digit, transfer in choices:
            if len(transfer.chain) >= 2:
                keys = ((0.3, "1"), (1.2, digit)) if digit else ()
                first, second = transfer.chain[0], transfer.chain[1]
                return Stop(
                    f"{first.label} does not answer: the chain goes on to {second.label}",
                    ScriptedCall(number, keys=keys, hangup_after_s=HANG_UP_AFTER_S + 2),
                    at,
                    unanswered=(first.dial,),
                )
    return None


def plan_tour(snapshot: RuleSnapshot) -> list[Stop]:
    """Pick callers from the rule set's own exchanges for each stop of the tour."""
    rules = snapshot.rules
    policy = rules.overlap_policy
    day = _business_time(snapshot, 10)
    inside: str | None = None
    shared: str | None = None
    codes: list[str] = []
    for exchange_id in rules.exchanges:
        overlap = snapshot.geo.exchanges.get(exchange_id)
        code = _first_code(snapshot, exchange_id)
        if overlap is None or code is None:
            continue
        codes.append(code)
        shares = [s for s in overlap.municipalities if s.id in snapshot.municipalities]
        shares = [s for s in shares if s.share >= policy.min_share]
        if inside is None and shares and shares[0].share >= policy.dominance_share:
            inside = code
        if shared is None and len(shares) > 1 and shares[0].share < policy.dominance_share:
            shared = code
    inside_number = f"{inside or '905555'}0123"
    stops = [
        Stop(
            "A caller from an exchange inside one municipality",
            ScriptedCall(inside_number, hangup_after_s=HANG_UP_AFTER_S),
            day,
        )
    ]
    if shared is not None:
        stops.append(
            Stop(
                "A caller from a shared exchange skips the greeting, mistypes, then chooses",
                ScriptedCall(
                    f"{shared}0456",
                    keys=((0.3, "1"), (1.2, "5"), (2.4, "2")),
                    hangup_after_s=HANG_UP_AFTER_S + 3,
                ),
                day,
            )
        )
    stops.append(
        Stop(
            "A caller presses 0 during the greeting for a live agent",
            ScriptedCall(inside_number, keys=((0.3, "0"),), hangup_after_s=HANG_UP_AFTER_S),
            day,
        )
    )
    stops.append(
        Stop(
            "A call after hours",
            ScriptedCall(inside_number, hangup_after_s=HANG_UP_AFTER_S),
            _business_time(snapshot, 22),
        )
    )
    fallback = _with_fallback(snapshot, codes, day)
    if fallback is not None:
        stops.append(fallback)
    return stops


async def run_tour(
    settings: Settings,
    rules_spec: str,
    *,
    out: TextIO,
    playback_s: float = 0.3,
    stops: Callable[[RuleSnapshot], Sequence[Stop]] = plan_tour,
) -> int:
    """Run every stop of the tour and print it; returns the exit status."""
    snapshot = await asyncio.to_thread(load_snapshot, rules_spec)
    metrics = Metrics()
    now: list[datetime] = [datetime.now(ZoneInfo("UTC"))]
    switch = FakeSwitch(
        playback_s=playback_s,
        default_outcome=Outcome(kind="answer", after_s=0.2, press="1"),
    )
    tour = list(stops(snapshot))
    async with simulated_controller(
        settings, RulesSource.fixed(snapshot, metrics), switch=switch, clock=lambda: now[0]
    ) as (fake, controller):
        for n, stop in enumerate(tour, start=1):
            now[0] = stop.at
            for dial in stop.unanswered:
                switch.script_endpoint(dial, Outcome(kind="no_answer", after_s=0.3))
            out.write(f"\n{n}. {stop.title} ({stop.at:%a %H:%M %Z})\n")
            record = await play_call(switch, stop.call)
            await _print_trace(out, fake, controller, record.channel_id)
            for dial in stop.unanswered:
                switch.script_endpoint(dial, DESTINATION_ANSWERS)
    return 0


async def _print_trace(out: TextIO, fake: FakeAri, controller: Controller, call_id: str) -> None:
    call = controller.calls.get(call_id)
    if call is not None:
        await asyncio.wait_for(call.ended.wait(), 30)
    out.write("   " + describe_call(fake.switch, fake.switch.record(call_id)) + "\n")
    for decision in controller.recent_decisions(limit=20):
        if decision["call_id"] != call_id:
            continue
        for step in decision["trace"]:
            out.write(
                f"   - {step['stage']}: {step['evidence']} [{step['rule']}] → {step['result']}\n"
            )
        attempts = ", ".join(f"{a['destination']} {a['result']}" for a in decision["attempts"])
        out.write(
            f"   outcome: {decision['outcome']}; evidence: {decision['evidence']}; "
            f"destination: {decision['destination']}"
            + (f"; attempts: {attempts}" if attempts else "")
            + "\n"
        )
        break
