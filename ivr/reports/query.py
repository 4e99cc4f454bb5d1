"""The database's part of a report: a few ``GROUP BY`` queries over an indexed range.

SQLAlchemy Core only, portable between SQLite and PostgreSQL. Each query scans the range of
``local_date`` once (an index); the grouped results are small (a row per date and hour with
sums of ``CASE`` for every documented value of the categorical columns, a row per exchange and
municipality, per destination and result), so a year of a large region's calls reports in
seconds. The one column fetched whole is ``answer_to_person_s`` of the calls that reached a
person (exact percentiles on any database, without window functions).

On SQLite that index covers every ``call_records`` column read here (migration 0003), so the
scans read the index alone, never the wide rows: a column read here but missing there makes
SQLite read every row again (a new migration must add it).

Attempts carry their call's ``started_at``: they are selected by the time range that the
chosen dates' calls span (the host's zone maps later instants to later dates), so no join; the
range's ends are read through the ``local_date`` index (the first and the last date's calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, select

from ivr.reports.period import ReportRange
from routing_rules.decision import StatusResult
from routing_rules.storage.call_records import CallAttemptRow, CallRecordRow

R = CallRecordRow
KNOWN: dict[str, tuple[str, ...]] = {
    "number_kind": ("311", "ten-digit", "toll-free"),
    "language": ("en", "fr"),
    "zero_out": ("greeting", "menu"),
    "evidence": ("location", "exchange", "caller_choice", "default"),
    "outcome": ("completed", "caller_hangup", "message", "left_application", "lost_on_reconnect"),
    "abandoned_in": (
        "answering",
        "greeting",
        "menu",
        "hold",
        "ringing",
        "whisper",
        "awaiting_accept",
        "status",
    ),
    "status_check": tuple(str(result) for result in StatusResult),
}
"""The values of the tallied columns the schema documents: each counted in the one scan."""
FLAGS = ("after_hours", "greeting_skipped", "put_through", "status_contained")
"""Counted when true; ``status_contained``: a request's status was found and the call made
no transfer attempt (the caller's question answered without an agent)."""
UNFORESEEN = "\x00unforeseen"
"""The key of a tally's values that are neither NULL nor in `KNOWN` (counted together)."""
NOT_NULL = "\x00not-null"
"""The key under which the scan counts a column's values that are not NULL (``count(col)``)."""
MENU_PREFIX = "exchange:"


@dataclass(frozen=True, slots=True)
class HourRow:
    local_date: date
    local_hour: int
    local_weekday: int
    calls: int


@dataclass(frozen=True, slots=True)
class MenuRow:
    menu: str
    municipality: str | None
    chosen: bool
    """``evidence = 'caller_choice'`` and a municipality: the caller picked it at the menu."""
    calls: int


@dataclass(frozen=True, slots=True)
class AttemptRow:
    destination: str
    result: str
    attempts: int


@dataclass(frozen=True)
class QueryResults:
    """What the database answered for one range, before any figure is computed."""

    hours: Sequence[HourRow]
    flags: dict[str, int]
    """Calls after hours, that skipped the greeting, put through (a transfer attempt)."""
    tallies: dict[str, dict[str | None, int]]
    """Per column of `KNOWN`: calls per value (None: NULL); unforeseen values are counted
    under their own names for ``outcome``, together under `UNFORESEEN` for the others."""
    menus: Sequence[MenuRow]
    attempts: Sequence[AttemptRow]
    answer_to_person_s: Sequence[float]
    """Seconds from answer to a person of each call that reached one (any order)."""


def in_range(period: ReportRange) -> Any:
    return and_(R.local_date >= period.start, R.local_date <= period.end)


def fetch(engine: Engine, period: ReportRange) -> QueryResults:
    """Run the report's queries in one read transaction (blocking: not on an event loop)."""
    with engine.connect() as conn:
        hours, flags, tallies = _hours_and_tallies(conn, period)
        if tallies["outcome"].get(UNFORESEEN):
            del tallies["outcome"][UNFORESEEN]
            tallies["outcome"].update(_unforeseen_outcomes(conn, period))
        return QueryResults(
            hours=hours,
            flags=flags,
            tallies=tallies,
            menus=_menus(conn, period),
            attempts=_attempts(conn, period) if hours else [],
            answer_to_person_s=_answer_to_person(conn, period),
        )


def _ones(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _hours_and_tallies(
    conn: Connection, period: ReportRange
) -> tuple[list[HourRow], dict[str, int], dict[str, dict[str | None, int]]]:
    """One scan: calls per date and hour, each with the count of every known value of every
    tallied column, of NULLs, and of the flags. Sums of ``CASE`` grouped by the hour, which
    the ``local_date`` index nearly orders: no wide sort (a ``GROUP BY`` of the categorical
    columns themselves sorts every call, several times slower over a million)."""
    sums = [
        _ones(R.after_hours),
        _ones(R.greeting_skipped),
        _ones(R.attempts > 0),
        _ones(and_(R.status_check == str(StatusResult.FOUND), R.attempts == 0)),
    ]
    keys: list[tuple[str, str | None]] = []
    for name, values in KNOWN.items():
        column = getattr(R, name)
        for value in values:
            sums.append(_ones(column == value))
            keys.append((name, value))
        sums.append(func.count(column))  # the values that are not NULL
        keys.append((name, NOT_NULL))
    query = (
        select(R.local_date, R.local_hour, R.local_weekday, func.count(), *sums)
        .where(in_range(period))
        .group_by(R.local_date, R.local_hour, R.local_weekday)
    )
    hours = []
    flags = dict.fromkeys(FLAGS, 0)
    tallies: dict[str, dict[str | None, int]] = {name: {} for name in KNOWN}
    for row in conn.execute(query):
        calls = int(row[3])
        hours.append(HourRow(row[0], row[1], row[2], calls))
        flag_values = row[4 : 4 + len(FLAGS)]
        for name, value in zip(FLAGS, flag_values, strict=True):
            flags[name] += int(value)
        for (name, key), value in zip(keys, row[4 + len(FLAGS) :], strict=True):
            tallies[name][key] = tallies[name].get(key, 0) + int(value)
    total = sum(h.calls for h in hours)
    for table in tallies.values():
        not_null = table.pop(NOT_NULL, 0)
        table[None] = total - not_null
        table[UNFORESEEN] = not_null - sum(v for k, v in table.items() if k is not None)
    return hours, flags, tallies


def _unforeseen_outcomes(conn: Connection, period: ReportRange) -> dict[str | None, int]:
    """Outcomes beyond `KNOWN` (``handed_back:REASON``) by name: a scan of the few others."""
    query = (
        select(R.outcome, func.count())
        .where(in_range(period), R.outcome.not_in(KNOWN["outcome"]))
        .group_by(R.outcome)
    )
    return {outcome: int(n) for outcome, n in conn.execute(query)}


def _menus(conn: Connection, period: ReportRange) -> list[MenuRow]:
    chosen = and_(R.evidence == "caller_choice", R.municipality.is_not(None))
    chose = case((chosen, True), else_=False)
    query = (
        select(R.menu, R.municipality, chose, func.count())
        .where(in_range(period), R.menu.like(f"{MENU_PREFIX}%"))
        .group_by(R.menu, R.municipality, chose)
    )
    return [MenuRow(m, mun, bool(c), n) for m, mun, c, n in conn.execute(query)]


def _attempts(conn: Connection, period: ReportRange) -> list[AttemptRow]:
    on_dates = select(R.started_at).where(in_range(period)).limit(1)
    first = conn.execute(on_dates.order_by(R.local_date, R.started_at)).scalar()
    last = conn.execute(on_dates.order_by(R.local_date.desc(), R.started_at.desc())).scalar()
    if first is None or last is None:
        return []
    a = CallAttemptRow
    query = (
        select(a.destination, a.result, func.count())
        .where(a.started_at >= first, a.started_at <= last)
        .group_by(a.destination, a.result)
    )
    return [AttemptRow(d, r, n) for d, r, n in conn.execute(query)]


def _answer_to_person(conn: Connection, period: ReportRange) -> list[float]:
    query = select(R.answer_to_person_s).where(in_range(period), R.answer_to_person_s.is_not(None))
    return [float(v) for v in conn.execute(query).scalars() if v is not None]
