"""The database's part of a report: a few ``GROUP BY`` queries over an indexed range.

SQLAlchemy Core only, portable between SQLite and PostgreSQL. Each query scans the range of
``local_date`` once (an index); the grouped results are small (a row per date and hour, per
combination of a few categorical columns, per exchange and municipality, per destination and
result), so a year of a large region's calls reports in seconds. The one column fetched whole
is ``answer_to_person_s`` of the calls that reached a person (exact percentiles on any
database, without window functions).

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
from routing_rules.storage.call_records import CallAttemptRow, CallRecordRow

R = CallRecordRow
CATEGORIES = (
    "number_kind",
    "after_hours",
    "greeting_skipped",
    "zero_out",
    "language",
    "evidence",
    "outcome",
    "abandoned_in",
)
"""The columns of the categorical query, in the order of `CategoryRow`'s first fields."""
MENU_PREFIX = "exchange:"


@dataclass(frozen=True, slots=True)
class HourRow:
    local_date: date
    local_hour: int
    local_weekday: int
    calls: int


@dataclass(frozen=True, slots=True)
class CategoryRow:
    number_kind: str | None
    after_hours: bool
    greeting_skipped: bool
    zero_out: str | None
    language: str
    evidence: str | None
    outcome: str
    abandoned_in: str | None
    calls: int
    put_through: int
    """Of those, calls with at least one transfer attempt."""


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
    categories: Sequence[CategoryRow]
    menus: Sequence[MenuRow]
    attempts: Sequence[AttemptRow]
    answer_to_person_s: Sequence[float]
    """Seconds from answer to a person of each call that reached one (any order)."""


def in_range(period: ReportRange) -> Any:
    return and_(R.local_date >= period.start, R.local_date <= period.end)


def fetch(engine: Engine, period: ReportRange) -> QueryResults:
    """Run the report's queries in one read transaction (blocking: not on an event loop)."""
    with engine.connect() as conn:
        hours = _hours(conn, period)
        return QueryResults(
            hours=hours,
            categories=_categories(conn, period),
            menus=_menus(conn, period),
            attempts=_attempts(conn, period) if hours else [],
            answer_to_person_s=_answer_to_person(conn, period),
        )


def _hours(conn: Connection, period: ReportRange) -> list[HourRow]:
    query = (
        select(R.local_date, R.local_hour, R.local_weekday, func.count())
        .where(in_range(period))
        .group_by(R.local_date, R.local_hour, R.local_weekday)
    )
    return [HourRow(d, h, w, n) for d, h, w, n in conn.execute(query)]


def _categories(conn: Connection, period: ReportRange) -> list[CategoryRow]:
    columns = [getattr(R, name) for name in CATEGORIES]
    put_through = func.sum(case((R.attempts > 0, 1), else_=0))
    query = select(*columns, func.count(), put_through).where(in_range(period)).group_by(*columns)
    return [
        CategoryRow(*row[:8], calls=int(row[8]), put_through=int(row[9] or 0))
        for row in conn.execute(query)
    ]


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
