"""The report's summary counted afresh from the call records, in SQL: how migration 0004 fills
``call_report_counts`` from the rows already stored, and what a test compares it with."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
)

from routing_rules.storage.call_records import CallAttemptRow, CallRecordRow
from routing_rules.storage.report_summary import (
    ANSWER_S,
    ATTEMPT,
    CHOICE,
    FOUND,
    HOUR,
    MENU,
    STATUS_CHECK,
    TALLIED,
    ReportCountRow,
)

COLUMNS = ["local_date", "figure", "value", "detail", "calls"]


def recount(
    dialect: str, *, status_checks: bool = True
) -> CompoundSelect[date, str, str, str, int]:
    """``(local_date, figure, value, detail, calls)`` for every key of the summary whose
    count is not 0, from the rows (`report_summary.counts_of`, in SQL). ``status_checks``
    False: without the ``status_check`` column (migration 0004 runs before 0005 adds it)."""
    r = CallRecordRow.__table__.c
    a = CallAttemptRow.__table__.c
    # Literal SQL, not bound parameters: PostgreSQL matches a grouped expression with the
    # selected one only when both are spelled the same (and refuses to group by a constant).
    empty = literal_column("''", String)

    def stored(column: Any) -> Any:
        return case((column.is_(None), empty), else_=literal_column("'='", String) + column)

    def grouped(figure: str, value: Any, detail: Any, *where: Any) -> Any:
        return (
            select(r.local_date, literal_column(f"'{figure}'", String), value, detail, func.count())
            .where(*where)
            .group_by(r.local_date, *(e for e in (value, detail) if e is not empty))
        )

    seconds = r.answer_to_person_s
    if dialect == "postgresql":
        whole: Any = cast(func.floor(seconds), Integer)
    else:  # SQLite's CAST truncates toward 0 (and it may lack floor())
        whole = cast(seconds, Integer) - case((seconds < cast(seconds, Integer), 1), else_=0)
    chosen = and_(r.evidence == CHOICE, r.municipality.is_not(None))
    attempts = (
        select(
            r.local_date,
            literal_column(f"'{ATTEMPT}'", String),
            stored(a.destination),
            stored(a.result),
            func.count(),
        )
        .select_from(CallAttemptRow.__table__.join(CallRecordRow.__table__))
        .group_by(r.local_date, a.destination, a.result)
    )
    checks: list[Any] = []
    if status_checks:
        checked = r[STATUS_CHECK]
        contained = and_(checked == FOUND, r.attempts == 0)
        checks = [
            grouped(STATUS_CHECK, stored(checked), empty, checked.is_not(None)),
            grouped("status_contained", empty, empty, contained),
        ]
    return union_all(
        grouped(HOUR, cast(r.local_hour, String), empty),
        *(grouped(name, stored(r[name]), empty) for name in TALLIED),
        grouped("after_hours", empty, empty, r.after_hours == true()),
        grouped("greeting_skipped", empty, empty, r.greeting_skipped == true()),
        grouped("put_through", empty, empty, r.attempts > 0),
        grouped(
            MENU,
            stored(r.menu),
            case((chosen, stored(r.municipality)), else_=empty),
            r.menu.is_not(None),
        ),
        grouped(ANSWER_S, cast(whole, String), empty, seconds.is_not(None)),
        *checks,
        attempts,
    )


def refill(conn: Connection, *, status_checks: bool = True) -> None:
    """Replace the summary by `recount`."""
    conn.execute(delete(ReportCountRow))
    counted = recount(conn.dialect.name, status_checks=status_checks)
    conn.execute(insert(ReportCountRow).from_select(COLUMNS, counted))
