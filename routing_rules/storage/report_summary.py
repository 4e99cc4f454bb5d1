"""The report's summary of the call records: calls counted per local date and figure.

A year's report over the rows themselves reads a million calls; over this summary it reads
a few tens of thousands of counts. ``call_report_counts`` holds, per ``local_date``, how many
calls (or transfer attempts) have each value of each figure the report groups by:

==================  ==========================================  ==========================
figure              value                                       detail
==================  ==========================================  ==========================
``hour``            ``local_hour`` (``"0"`` … ``"23"``)         ``""``
a tallied column    its value (`TALLIED`)                       ``""``
a flag              ``""`` (only calls where it holds; `FLAGS`)  ``""``
``menu``            ``menu`` (any menu offered)                 the municipality when the
                                                                caller chose it, else ``""``
``status_check``    ``status_check`` (only calls that have one)  ``""``
``attempt``         the attempt's ``destination``               its ``result``
``answer_s``        whole seconds from answer to a person       ``""``
                    (``floor(answer_to_person_s)``)
==================  ==========================================  ==========================

Values and details are stored as `key` spells them (``"=" + value``; ``""`` for NULL), so
NULL, the empty string and every unforeseen value stay apart. Attempts count under their
call's ``local_date``.

`CallRecordStore` keeps it in step: a write adds its calls' counts, a purge subtracts those of
the calls it deletes, in the same transaction as the rows (an upsert per key, keys in a fixed
order so concurrent writers never deadlock); a count that falls to 0 is deleted. Migration
0004 fills it from the rows already stored (``routing_rules.storage.report_recount``), which
is also how a test checks it; the calls stored before 0005 have no status check, so that
migration adds nothing to it.

Times from answer to a person are counted per whole second: exact percentiles and service
levels find their second there, then read the few rows of that second through the
``answer_to_person_s`` index (``ivr.reports.waits``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, Integer, String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from routing_rules.storage.tables import Base

TALLIED = ("number_kind", "language", "zero_out", "evidence", "outcome", "abandoned_in")
"""The ``call_records`` columns counted per value."""
FLAGS = ("after_hours", "greeting_skipped", "put_through", "status_contained")
"""Counted when true; ``put_through``: the call made at least one transfer attempt;
``status_contained``: the request the caller asked about was found and the call made no
transfer attempt (answered without an agent)."""
READ = (
    *("local_date", "local_hour", *TALLIED),
    *("after_hours", "greeting_skipped", "attempts", "menu", "municipality"),
    "answer_to_person_s",
    "status_check",
)
"""The ``call_records`` columns `counts_of` reads (``evidence`` is among `TALLIED`)."""
HOUR, MENU, ATTEMPT, ANSWER_S = "hour", "menu", "attempt", "answer_s"
STATUS_CHECK = "status_check"
FOUND = "found"
"""The ``status_check`` of a request found: with no transfer attempt, ``status_contained``."""
CHOICE = "caller_choice"
"""The ``evidence`` of a municipality the caller chose at a menu."""

Key = tuple[date, str, str, str]
"""``(local_date, figure, value, detail)``."""


class ReportCountRow(Base):
    __tablename__ = "call_report_counts"

    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    figure: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(String, primary_key=True)
    detail: Mapped[str] = mapped_column(String, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


def key(value: str | None) -> str:
    """A value as stored in ``value`` and ``detail``: ``""`` for NULL, else ``"=" + value``."""
    return "" if value is None else "=" + value


def counts_of(call: Mapping[Any, Any], attempts: Iterable[tuple[str, str]]) -> Iterable[Key]:
    """The keys one call counts under: ``call`` has the ``call_records`` columns read here,
    ``attempts`` are its ``(destination, result)``."""
    day = call["local_date"]
    yield day, HOUR, str(call["local_hour"]), ""
    for name in TALLIED:
        yield day, name, key(call[name]), ""
    if call["after_hours"]:
        yield day, "after_hours", "", ""
    if call["greeting_skipped"]:
        yield day, "greeting_skipped", "", ""
    if call["attempts"] > 0:
        yield day, "put_through", "", ""
    if call[STATUS_CHECK] is not None:
        yield day, STATUS_CHECK, key(call[STATUS_CHECK]), ""
        if call[STATUS_CHECK] == FOUND and call["attempts"] == 0:
            yield day, "status_contained", "", ""
    if call["menu"] is not None:
        chosen = call["evidence"] == CHOICE and call["municipality"] is not None
        yield day, MENU, key(call["menu"]), key(call["municipality"]) if chosen else ""
    if call["answer_to_person_s"] is not None:
        yield day, ANSWER_S, str(math.floor(call["answer_to_person_s"])), ""
    for destination, result in attempts:
        yield day, ATTEMPT, key(destination), key(result)


def apply(conn: Connection, counts: Counter[Key], sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) ``counts``; counts that reach 0 are deleted."""
    if not counts:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    c = ReportCountRow
    upsert = dialect.insert(c)
    upsert = upsert.on_conflict_do_update(
        index_elements=["local_date", "figure", "value", "detail"],
        set_={"calls": c.calls + upsert.excluded.calls},
    )
    conn.execute(
        upsert,
        [
            {"local_date": d, "figure": f, "value": v, "detail": x, "calls": sign * n}
            for (d, f, v, x), n in sorted(counts.items())
        ],
    )
    if sign < 0:
        days = sorted({d for d, _, _, _ in counts})
        conn.execute(delete(c).where(c.local_date.in_(days), c.calls == 0))
