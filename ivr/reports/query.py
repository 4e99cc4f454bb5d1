"""The database's part of a report: counts read from the report's summary, a few times read
from the call records.

SQLAlchemy Core only, portable between SQLite and PostgreSQL. ``call_report_counts`` (see
``routing_rules.storage.report_summary``) holds per local date how many calls have each value
of each figure, so a year's report sums a few tens of thousands of counts: one query for the
calls per date and hour, one for every other figure summed over the range. The times from
answer to a person come from the counts per whole second, and the rows of the seconds that
hold a percentile or a threshold (``ivr.reports.waits``), read through the
``answer_to_person_s`` index. Everything is read in one transaction that sees one state of
the store (a snapshot), so counts and times agree while records are being written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, func, select

from ivr.reports.period import ReportRange
from ivr.reports.waits import Waits, waits
from routing_rules.decision import StatusResult
from routing_rules.storage import report_summary as summary
from routing_rules.storage.call_records import CallRecordRow
from routing_rules.storage.report_summary import ReportCountRow

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
"""The values of the tallied columns the schema documents (others are counted together)."""
UNFORESEEN = "\x00unforeseen"
"""The key of a tally's values that are neither NULL nor in `KNOWN` (counted together)."""
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
    """Calls per `summary.FLAGS`: after hours, that skipped the greeting, put through (a
    transfer attempt), whose status check was answered without an agent."""
    tallies: dict[str, dict[str | None, int]]
    """Per column of `KNOWN`: calls per value (None: NULL); unforeseen values are counted
    under their own names for ``outcome``, together under `UNFORESEEN` for the others."""
    menus: Sequence[MenuRow]
    attempts: Sequence[AttemptRow]
    waits: Waits


def fetch(engine: Engine, period: ReportRange, thresholds_s: Sequence[float]) -> QueryResults:
    """Run the report's queries in one read transaction (blocking: not on an event loop)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return _read(conn, period, thresholds_s)


def _read(conn: Connection, period: ReportRange, thresholds_s: Sequence[float]) -> QueryResults:
    c = ReportCountRow
    in_range = c.local_date.between(period.start, period.end)
    hours = [
        HourRow(day, int(hour), day.weekday(), calls)
        for day, hour, calls in conn.execute(
            select(c.local_date, c.value, c.calls).where(in_range, c.figure == summary.HOUR)
        )
    ]
    flags = dict.fromkeys(summary.FLAGS, 0)
    tallies: dict[str, dict[str | None, int]] = {name: {} for name in KNOWN}
    menus, attempts, per_second = [], [], {}
    totals = (
        select(c.figure, c.value, c.detail, func.sum(c.calls))
        .where(in_range, c.figure != summary.HOUR)
        .group_by(c.figure, c.value, c.detail)
    )
    for figure, value, detail, total in conn.execute(totals):
        calls = int(total)
        if figure in flags:
            flags[figure] += calls
        elif figure in tallies:
            tally = tallies[figure]
            name = _stored(value)
            if name is not None and figure != "outcome" and name not in KNOWN[figure]:
                name = UNFORESEEN
            tally[name] = tally.get(name, 0) + calls
        elif figure == summary.MENU:
            menu, municipality = _stored(value), _stored(detail)
            if menu is not None and menu.startswith(MENU_PREFIX):
                menus.append(MenuRow(menu, municipality, municipality is not None, calls))
        elif figure == summary.ATTEMPT:
            attempts.append(AttemptRow(_stored(value) or "", _stored(detail) or "", calls))
        elif figure == summary.ANSWER_S:
            per_second[int(value)] = calls
    return QueryResults(
        hours=hours,
        flags=flags,
        tallies=tallies,
        menus=menus,
        attempts=attempts,
        waits=waits(per_second, lambda second: _times_in(conn, period, second), thresholds_s),
    )


def _stored(value: str) -> str | None:
    """A value as `summary.key` stored it."""
    return value[1:] if value else None


def _times_in(conn: Connection, period: ReportRange, second: int) -> list[float]:
    r = CallRecordRow
    query = select(r.answer_to_person_s).where(
        r.answer_to_person_s >= second,
        r.answer_to_person_s < second + 1,
        r.local_date.between(period.start, period.end),
    )
    return [float(v) for v in conn.execute(query).scalars() if v is not None]
