"""Calls through the simulated switch, then ``ivr311 report`` over their stored records: every
figure equals an independent count of the same calls, made from the seeded script of what each
caller does and from the switch's own record of the calls (never from the report's SQL).

The mix (seeded): callers from inside a municipality who skip the greeting and reach a person;
callers from a shared exchange who pick a municipality at its menu (one municipality's first
link is busy, so its callers fall back to the next); callers who press 0 for an agent; callers
who hang up during the greeting or at the menu; each dialling 311, the ten-digit or the
toll-free number, at a business hour of one of ten weekdays. A second run has the store stop
answering for the first half of the calls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from ivr_testing import (
    BUSINESS_HOURS,
    Harness,
    HungStore,
    fallback_choice,
    inside_number,
    menu_number,
    records_in,
    running_harness,
)
from sqlalchemy import select

from ivr.metrics import Metrics
from ivr.reports import build_report
from ivr.reports.period import ReportRange
from ivr.reports.render_json import document
from routing_rules.decision import CallContext, OfferMenu, Transfer
from routing_rules.engine import decide
from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.call_records import CallRecordRow
from routing_rules.storage.store import RuleStore
from switchsim import Outcome

CALLS = int(os.environ.get("IVR311_REPORT_SIM_CALLS", "1000"))
"""Calls in the first test (about 30 s); the issue's 10,000 take about six minutes:
``IVR311_REPORT_SIM_CALLS=10000 pytest tests/ivr/test_call_report.py``."""
BATCH = 20
"""Callers one after the other at the same hour of the same day."""
ON_THE_LINE = 60
"""Callers on the line at once: enough to keep the controller busy while others wait on a
prompt or a ringing destination."""
NUMBERS = {"311": "311", "+19055550100": "ten-digit", "+18005550100": "toll-free"}
BEHAVIOURS = ("inside", "choice", "choice", "zero", "quit_greeting", "quit_menu")
FIRST_DAY = date(2026, 11, 16)  # a Monday
ZONE = BUSINESS_HOURS.tzinfo


@pytest.fixture(autouse=True)
def warnings_only() -> None:
    """Only warnings and errors are logged (and the test restores the configuration after):
    rendering ten lines for each of ten thousand calls would cost more than the calls."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@dataclass(frozen=True)
class Caller:
    behaviour: str
    dialled: str
    at: datetime
    digit: str | None = None
    """The menu key of a ``choice`` caller."""


def script(seed: int, count: int, digits: list[str]) -> list[Caller]:
    rng = random.Random(seed)
    callers = []
    for batch in range(0, count, BATCH):
        day = FIRST_DAY + timedelta(days=[0, 1, 2, 3, 4, 7, 8, 9, 10, 11][batch // BATCH % 10])
        at = datetime(day.year, day.month, day.day, rng.randrange(9, 16), tzinfo=ZONE)
        for _ in range(min(BATCH, count - batch)):
            behaviour = rng.choice(BEHAVIOURS)
            digit = rng.choice(digits) if behaviour == "choice" else None
            callers.append(Caller(behaviour, rng.choice(list(NUMBERS)), at, digit))
    return callers


async def arrive(h: Harness, caller: Caller, inside: str, shared: str) -> str:
    """The caller's call placed, until it hears the greeting (the controller has started the
    call, and stamped it with the clock's time); returns the call id."""
    call_id = h.call(inside if caller.behaviour == "inside" else shared, dialled=caller.dialled)
    await h.in_greeting(call_id)
    return call_id


async def follow_script(h: Harness, caller: Caller, arrived: Awaitable[str]) -> str:
    """The rest of one caller's script once ``arrived`` (`arrive`), to the call's end; returns
    the call id."""
    call_id = await arrived
    if caller.behaviour != "quit_greeting":
        await after_greeting(h, caller, call_id)
    else:
        h.switch.hangup_caller(call_id)
    call = h.controller.calls.get(call_id)
    if call is not None:
        await h.wait(call.ended.wait())
    return call_id


async def after_greeting(h: Harness, caller: Caller, call_id: str) -> None:
    record = h.record(call_id)
    h.switch.press(call_id, "0" if caller.behaviour == "zero" else "1")
    if caller.behaviour in ("choice", "quit_menu"):
        await h.until(lambda: "menu-intro" in h.heard(call_id), channel_id=call_id)
        if caller.behaviour == "quit_menu":
            h.switch.hangup_caller(call_id)
            return
        assert caller.digit is not None
        h.switch.press(call_id, caller.digit)
    await h.until(lambda: bool(record.bridged_with), channel_id=call_id)
    h.switch.hangup_caller(call_id)


def transfers_seen(
    h: Harness, call_ids: list[str], owner: dict[str, str]
) -> dict[str, Counter[str]]:
    """Per destination, the switch's outbound legs of these calls: answered or busy.
    ``owner`` names each dial string's destination (the leg's endpoint holds the string)."""
    seen: dict[str, Counter[str]] = {}
    wanted = set(call_ids)
    for leg in h.switch.records.values():
        if leg.originator in wanted:
            result = "connected" if leg.answered else "busy"
            destination = next(d for dial, d in owner.items() if dial in leg.endpoint)
            seen.setdefault(destination, Counter())[result] += 1
    return seen


def expected(
    callers: list[Caller], menu: OfferMenu, transfers: dict[str, Counter[str]]
) -> dict[str, Any]:
    kinds = Counter(NUMBERS[c.dialled] for c in callers)
    behaviour = Counter(c.behaviour for c in callers)
    chosen = Counter(
        next(o.municipality_id for o in menu.options if o.digit == c.digit)
        for c in callers
        if c.behaviour == "choice"
    )
    offered = behaviour["choice"] + behaviour["quit_menu"]
    reached = behaviour["inside"] + behaviour["choice"] + behaviour["zero"]
    abandoned = behaviour["quit_greeting"] + behaviour["quit_menu"]
    return {
        "overlap": [
            {
                "exchange": menu.menu_id.removeprefix("exchange:"),
                "offered": offered,
                "choices": [
                    {"municipality": m, "calls": n}
                    for m, n in sorted(chosen.items(), key=lambda item: (-item[1], item[0]))
                ],
                "no_choice": behaviour["quit_menu"],
            }
        ],
        "total": len(callers),
        "by_number_kind": {k: kinds[k] for k in ("311", "ten-digit", "toll-free")},
        "by_hour": [sum(1 for c in callers if c.at.hour == hour) for hour in range(24)],
        "by_weekday": [sum(1 for c in callers if c.at.weekday() == d) for d in range(7)],
        "by_day": Counter(c.at.date().isoformat() for c in callers),
        "after_hours": 0,
        "greeting_skipped": len(callers) - behaviour["quit_greeting"],
        "zero_outs": {"greeting": behaviour["zero"], "menu": 0},
        "language": {"en": len(callers), "fr": 0},
        "evidence": {
            "location": 0,
            "exchange": behaviour["inside"],
            "caller_choice": behaviour["choice"] + behaviour["zero"],
            "default": 0,
            "none": abandoned,
        },
        "outcomes": {k: n for k, n in (("caller_hangup", abandoned), ("completed", reached)) if n},
        "transfers": {d: dict(c) for d, c in transfers.items()},
        "abandoned": {"greeting": behaviour["quit_greeting"], "menu": behaviour["quit_menu"]},
        "reached_person": reached,
    }


@dataclass(frozen=True)
class Demo:
    """The Durham demo as the callers meet it."""

    inside: str
    """A number from inside one municipality (routed to a person at once)."""
    shared: str
    """A number from a shared exchange (its menu is offered)."""
    menu: OfferMenu
    busy: Transfer
    """The menu choice whose first link is busy throughout."""
    owner: dict[str, str]
    """Destination id by dial string."""


def demo(durham: RuleSnapshot) -> Demo:
    inside, shared = inside_number(durham), menu_number(durham)
    context = CallContext(dialled="311", calling=shared, at=BUSINESS_HOURS, greeting_done=True)
    menu = decide(durham, context).step
    assert isinstance(menu, OfferMenu)
    rules = durham.rules
    destinations = [
        *rules.host.destinations,
        *(d for m in rules.municipalities for d in m.destinations),
    ]
    return Demo(
        inside,
        shared,
        menu,
        fallback_choice(durham, shared)[1],
        {d.dial: d.id for d in destinations},
    )


async def place(h: Harness, setup: Demo, callers: list[Caller]) -> list[str]:
    """The callers in order, ``ON_THE_LINE`` at a time, each at its hour; returns the call ids
    in order.

    The switch's clock moves on to a caller's hour only once every call placed before has
    started (`arrive`), so each record carries its own caller's start time. A call still under
    way may take its later decisions at the next caller's hour: every hour of the script is
    a business hour of a weekday, so they route the same."""
    h.switch.script_endpoint(setup.busy.chain[0].dial, Outcome(kind="busy", after_s=0.01))
    lines = asyncio.Semaphore(ON_THE_LINE)
    arriving: list[asyncio.Task[str]] = []
    calls: list[asyncio.Task[str]] = []
    for caller in callers:
        if caller.at != h.clock[0]:
            await asyncio.gather(*arriving)
            arriving.clear()
            h.clock[0] = caller.at
        await lines.acquire()
        arrived = asyncio.create_task(arrive(h, caller, setup.inside, setup.shared))
        call = asyncio.create_task(follow_script(h, caller, arrived))
        call.add_done_callback(lambda _: lines.release())
        arriving.append(arrived)
        calls.append(call)
    return list(await asyncio.gather(*calls))


def report_of(store: RuleStore, callers: list[Caller]) -> dict[str, Any]:
    days = sorted({c.at.date() for c in callers})
    return document(build_report(store.engine, ReportRange(days[0], days[-1])))


def assert_counts(report: dict[str, Any], want: dict[str, Any]) -> None:
    offered = report["calls_offered"]
    assert report["overlap"] == want["overlap"]
    assert offered["total"] == want["total"]
    assert offered["by_number_kind"] == want["by_number_kind"]
    assert offered["by_hour"] == want["by_hour"]
    assert offered["by_weekday"] == want["by_weekday"]
    assert {p["period"]: p["calls"] for p in offered["by_period"] if p["calls"]} == want["by_day"]
    assert report["after_hours"] == want["after_hours"]
    assert report["greeting_skipped"] == want["greeting_skipped"]
    assert report["zero_outs"]["by_stage"] == want["zero_outs"]
    assert report["language"] == want["language"]
    assert report["evidence"] == want["evidence"]
    assert report["outcomes"] == want["outcomes"]
    assert {
        row["destination"]: {k: n for k, n in row["results"].items() if n}
        for row in report["transfers"]
    } == want["transfers"]
    assert report["abandoned"]["by_stage"] == {
        **dict.fromkeys(("answering", "hold", "ringing", "whisper", "awaiting_accept"), 0),
        **want["abandoned"],
    }
    answer = report["answer_to_person"]
    assert answer["reached_person"] == want["reached_person"]
    assert answer["put_through"] == want["reached_person"]
    assert answer["p50_s"] <= answer["p90_s"] < 20
    assert [s["within"] for s in report["service_level"]] == [want["reached_person"]] * 2


async def test_every_figure_of_the_report_equals_an_independent_count_of_the_calls(
    durham: RuleSnapshot, tmp_path: Path
) -> None:
    setup = demo(durham)
    callers = script(seed=13, count=CALLS, digits=[o.digit for o in setup.menu.options])
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    try:
        async with running_harness(durham, store) as h:
            call_ids = await place(h, setup, callers)
            assert h.controller.records is not None
            await h.controller.records.writer.flush()
            transfers = transfers_seen(h, call_ids, setup.owner)
        report = report_of(store, callers)
    finally:
        store.close()
    assert report["calls_offered"]["total"] == CALLS
    assert_counts(report, expected(callers, setup.menu, transfers))


async def test_a_store_down_during_the_calls_loses_exactly_the_records_over_the_bound(
    durham: RuleSnapshot, tmp_path: Path
) -> None:
    """Half the calls run while the store does not answer: every call still follows its
    script to the end, exactly the records beyond the queue's bound are lost and counted, and
    the report over what was written equals the count of the calls whose records were kept."""
    setup = demo(durham)
    callers = script(seed=29, count=240, digits=[o.digit for o in setup.menu.options])
    during, after = callers[:120], callers[120:]
    capacity = 40
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    hung = HungStore(store, timeout_s=60)
    metrics = Metrics()
    records = records_in(hung, metrics, capacity)
    try:
        async with running_harness(durham, store, records) as h:
            down_ids = await place(h, setup, during)
            await asyncio.to_thread(hung.waiting.wait, 10)
            assert records.writer.dropped == len(during) - capacity
            hung.gate.set()
            up_ids = await place(h, setup, after)
            await records.writer.flush()
            with store.engine.connect() as conn:
                kept = set(conn.execute(select(CallRecordRow.call_id)).scalars())
            transfers = transfers_seen(h, [i for i in down_ids + up_ids if i in kept], setup.owner)
        report = report_of(store, callers)
    finally:
        store.close()

    assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == 80
    assert set(up_ids) <= kept, "every call after the outage is recorded"
    assert len(kept & set(down_ids)) == capacity, "the records held while the store was down"
    survivors = [c for c, i in zip(callers, down_ids + up_ids, strict=True) if i in kept]
    assert report["calls_offered"]["total"] == len(callers) - 80
    assert_counts(report, expected(survivors, setup.menu, transfers))
