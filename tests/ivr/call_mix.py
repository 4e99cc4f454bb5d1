"""Callers through the simulated switch with a known mix, and independent counts of what they
did: made from the seeded script of what each caller does and from the switch's own record of
the calls (never from the report's SQL or the stored rows).

The mix (seeded): callers from inside a municipality who skip the greeting and reach a person;
callers from a shared exchange who pick a municipality at its menu (one municipality's first
link is busy, so its callers fall back to the next); callers who press 0 for an agent; callers
who hang up during the greeting or at the menu; callers who ask for a request's status and
key no number (then reach a person); each dialling 311, the ten-digit or the toll-free
number, at a business hour of one of ten weekdays.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ivr_testing import BUSINESS_HOURS, Harness, fallback_choice, inside_number, menu_number

from ivr.reports import build_report
from ivr.reports.period import ReportRange
from ivr.reports.render_json import document
from routing_rules.decision import CallContext, OfferMenu, StatusResult, Transfer
from routing_rules.engine import decide
from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.store import RuleStore
from switchsim import Outcome

SAME_HOUR = 20
"""Callers one after the other at the same hour of the same day."""
INSIDE = ("inside", "status")
"""The behaviours of callers from inside one municipality (the others call from a shared
exchange)."""
ON_THE_LINE = 60
"""Callers on the line at once: enough to keep the controller busy while others wait on a
prompt or a ringing destination."""
PATIENCE_S = 60.0
"""How long one caller's step may take before the test fails: with ``ON_THE_LINE`` callers on
a starved machine a step can take more than the usual bound, and the bound is only there to
end a hung test."""
NUMBERS = {"311": "311", "+19055550100": "ten-digit", "+18005550100": "toll-free"}
BEHAVIOURS = ("inside", "choice", "choice", "zero", "quit_greeting", "quit_menu", "status")
FIRST_DAY = date(2026, 11, 16)  # a Monday
ZONE = BUSINESS_HOURS.tzinfo


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
    for batch in range(0, count, SAME_HOUR):
        day = FIRST_DAY + timedelta(days=[0, 1, 2, 3, 4, 7, 8, 9, 10, 11][batch // SAME_HOUR % 10])
        at = datetime(day.year, day.month, day.day, rng.randrange(9, 16), tzinfo=ZONE)
        for _ in range(min(SAME_HOUR, count - batch)):
            behaviour = rng.choice(BEHAVIOURS)
            digit = rng.choice(digits) if behaviour == "choice" else None
            callers.append(Caller(behaviour, rng.choice(list(NUMBERS)), at, digit))
    return callers


async def arrive(h: Harness, caller: Caller, inside: str, shared: str) -> str:
    """The caller's call placed, until it hears the greeting (the controller has started the
    call, and stamped it with the clock's time); returns the call id."""
    call_id = h.call(inside if caller.behaviour in INSIDE else shared, dialled=caller.dialled)
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
    h.switch.press(call_id, {"zero": "0", "status": "*"}.get(caller.behaviour, "1"))
    if caller.behaviour == "status":
        await h.until(lambda: "status-ask" in h.heard(call_id), channel_id=call_id)
        h.switch.press(call_id, "#")
    if caller.behaviour in ("choice", "quit_menu"):
        await h.until(lambda: "menu-intro" in h.heard(call_id), channel_id=call_id)
        if caller.behaviour == "quit_menu":
            h.switch.hangup_caller(call_id)
            return
        assert caller.digit is not None
        h.switch.press(call_id, caller.digit)
    await h.until(lambda: bool(record.bridged_with), channel_id=call_id)
    h.switch.hangup_caller(call_id)


def legs_of(h: Harness, owner: dict[str, str]) -> dict[str, list[tuple[str, bool]]]:
    """Per call, the switch's outbound legs in the order they were dialled: the destination
    (``owner`` names each dial string's destination, which the leg's endpoint holds) and
    whether it answered."""
    legs: dict[str, list[tuple[str, bool]]] = {}
    for leg in h.switch.records.values():
        if leg.originator is not None:
            destination = next(d for dial, d in owner.items() if dial in leg.endpoint)
            legs.setdefault(leg.originator, []).append((destination, leg.answered))
    return legs


def transfers_seen(
    legs: dict[str, list[tuple[str, bool]]], call_ids: list[str]
) -> dict[str, Counter[str]]:
    """Per destination, the switch's outbound legs of these calls: connected or busy."""
    seen: dict[str, Counter[str]] = {}
    for call_id in call_ids:
        for destination, answered in legs.get(call_id, ()):
            seen.setdefault(destination, Counter())["connected" if answered else "busy"] += 1
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
    reached = behaviour["inside"] + behaviour["choice"] + behaviour["zero"] + behaviour["status"]
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
            "exchange": behaviour["inside"] + behaviour["status"],
            "caller_choice": behaviour["choice"] + behaviour["zero"],
            "default": 0,
            "none": abandoned,
        },
        "outcomes": {k: n for k, n in (("caller_hangup", abandoned), ("completed", reached)) if n},
        "transfers": {d: dict(c) for d, c in transfers.items()},
        "abandoned": {"greeting": behaviour["quit_greeting"], "menu": behaviour["quit_menu"]},
        "reached_person": reached,
        "status_checks": {
            "total": behaviour["status"],
            "by_result": {
                **dict.fromkeys(StatusResult, 0),
                "no_number": behaviour["status"],
            },
            "contained": 0,
        },
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
    rules_hash: str
    """The rule set's hash as a call's record carries it."""


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
        durham.content_hash[:12],
    )


async def place(h: Harness, setup: Demo, callers: list[Caller]) -> list[str]:
    """The callers in order, ``ON_THE_LINE`` at a time, each at its hour; returns the call ids
    in order.

    The switch's clock moves on to a caller's hour only once every call placed before has
    started (`arrive`), so each record carries its own caller's start time. A call still under
    way may take its later decisions at the next caller's hour: every hour of the script is
    a business hour of a weekday, so they route the same.

    What the switch logs of each call (its events, the requests it answered, its channels'
    records) lives as long as the test: at each new hour it goes where the garbage collector's
    full passes do not walk (``gc.freeze``, as `ivr.controller.process.freeze_long_lived_objects`
    does at start), else they would stop every call for longer and longer as the log grows.
    The ``long_lived_objects_frozen`` fixture hands it all back after the test."""
    h.switch.script_endpoint(setup.busy.chain[0].dial, Outcome(kind="busy", after_s=0.01))
    h.patience_s = PATIENCE_S
    lines = asyncio.Semaphore(ON_THE_LINE)
    arriving: list[asyncio.Task[str]] = []
    call_ids = [""] * len(callers)

    async def call(n: int, arrived: asyncio.Task[str]) -> None:
        try:
            call_ids[n] = await follow_script(h, callers[n], arrived)
        finally:
            lines.release()

    async with asyncio.TaskGroup() as calls:
        for n, caller in enumerate(callers):
            if caller.at != h.clock[0]:
                await asyncio.gather(*arriving)
                arriving.clear()
                h.clock[0] = caller.at
                gc.freeze()  # see the docstring
            await lines.acquire()
            arrived = calls.create_task(arrive(h, caller, setup.inside, setup.shared))
            calls.create_task(call(n, arrived))
            arriving.append(arrived)
    return call_ids


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
        "status": 0,
        **want["abandoned"],
    }
    assert report["status_checks"] == want["status_checks"]
    answer = report["answer_to_person"]
    assert answer["reached_person"] == want["reached_person"]
    assert answer["put_through"] == want["reached_person"]
    assert answer["p50_s"] <= answer["p90_s"]
    assert [s["within"] for s in report["service_level"]] == [want["reached_person"]] * 2


EVIDENCE = {
    "inside": "exchange",
    "status": "exchange",
    "choice": "caller_choice",
    "zero": "caller_choice",
}
"""The routing evidence of each behaviour that reaches a person (the others have none)."""
ABANDONED_IN = {"quit_greeting": "greeting", "quit_menu": "menu"}
KEYED = {"zero": "0", "status": "*,"}
"""The menu entries a caller without a menu choice leaves: 0 for an agent; the status key, then
no request number (an empty entry)."""


def expected_row(caller: Caller, setup: Demo, legs: list[tuple[str, bool]]) -> dict[str, Any]:
    """The stored row of ``caller``'s call as the script and the switch's ``legs`` of the call
    say it must be (`row_as_written`)."""
    reached = caller.behaviour in EVIDENCE
    answered = [destination for destination, up in legs if up]
    calling = setup.inside if caller.behaviour in INSIDE else setup.shared
    want = {
        "dialled": caller.dialled,
        "number_kind": NUMBERS[caller.dialled],
        "local_date": caller.at.date(),
        "local_hour": caller.at.hour,
        "local_weekday": caller.at.weekday(),
        "caller_npa_nxx": calling[:6],
        "language": "en",
        "greeting_skipped": caller.behaviour != "quit_greeting",
        "zero_out": "greeting" if caller.behaviour == "zero" else None,
        "after_hours": False,
        "evidence": EVIDENCE.get(caller.behaviour),
        "digits": caller.digit or KEYED.get(caller.behaviour, ""),
        "outcome": "completed" if reached else "caller_hangup",
        "abandoned_in": ABANDONED_IN.get(caller.behaviour),
        "status_check": "no_number" if caller.behaviour == "status" else None,
        "destination": answered[-1] if answered else None,
        "rules_hash": setup.rules_hash,
        "attempts": [(d, "answered" if up else "busy") for d, up in legs],
        "reached_person": reached,
    }
    if caller.digit is not None:
        want["municipality"] = next(
            o.municipality_id for o in setup.menu.options if o.digit == caller.digit
        )
    return want


def row_as_written(row: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The fields of a stored row (`ivr_testing.stored_rows`) that `expected_row` gives."""
    written = {key: row[key] for key in ROW_FIELDS}
    written["attempts"] = [(a["destination"], a["result"]) for a in row["attempt_rows"]]
    written["reached_person"] = row["answer_to_person_s"] is not None
    if caller.digit is not None:
        written["municipality"] = row["municipality"]
    return written


def assert_intact(
    rows: dict[str, dict[str, Any]],
    callers: dict[str, Caller],
    setup: Demo,
    legs: dict[str, list[tuple[str, bool]]],
) -> None:
    """Every stored row (by call id) is the row its caller's call must have left."""
    for call_id, row in rows.items():
        caller = callers[call_id]
        want = expected_row(caller, setup, legs.get(call_id, []))
        written = row_as_written(row, caller)
        differ = {k: (written.get(k), v) for k, v in want.items() if written.get(k) != v}
        assert not differ, f"{call_id} ({caller}): written, wanted {differ}"


ROW_FIELDS = (
    "dialled",
    "number_kind",
    "local_date",
    "local_hour",
    "local_weekday",
    "caller_npa_nxx",
    "language",
    "greeting_skipped",
    "zero_out",
    "after_hours",
    "evidence",
    "digits",
    "outcome",
    "abandoned_in",
    "status_check",
    "destination",
    "rules_hash",
)
