"""Call records: one row per call in the rule store's database, kept for reports.

The controller writes them in batches, off the call path (``ivr.records``); a periodic purge
deletes those older than the retention. Every figure of a report is a column, and each write
and purge keeps the report's summary (``routing_rules.storage.report_summary``) in step in
the same transaction, so a report over a year of calls (a million rows) reads counts per date,
not the rows.

``call_records`` (one row per call; no full calling number anywhere):

=====================  =========================================================================
column                 meaning
=====================  =========================================================================
id                     surrogate key (``call_record_attempts.record_id`` refers to it)
call_id                the caller's channel id (not unique: a call taken over after a
                       controller restart is recorded by the controller that ends it)
started_at             when the call reached the controller, UTC (indexed); for a call taken
                       over after a restart, when it was taken over
local_date             that moment's date in the host's time zone (indexed): calls per day
local_hour             0–23, same zone: the hour-of-day profile
local_weekday          0 = Monday … 6 = Sunday, same zone: the day-of-week profile
dialled                the number dialled as delivered (311, a DID)
number_kind            ``311``, ``ten-digit``, ``toll-free``; NULL: not a host number
caller_npa_nxx         the calling number's NPA-NXX (an exchange, not a person); NULL when unusable
caller_hash            keyed hash of the full number (``IVR311_LOG_HASH_KEY``, as in the logs):
                       one caller's calls correlate, the number cannot be read back
caller_failure         why there is no NPA-NXX (``withheld``, ``malformed``, ``not_nanp``)
language               ``en`` or ``fr`` at the end of the call
greeting_skipped       a key cut the greeting short
zero_out               where 0 was pressed for a live agent: ``greeting``, ``menu``; NULL: not
after_hours            the host was closed (after-hours path or emergency override)
menu                   the last menu offered: ``exchange:ID`` for a shared exchange, ``members``,
                       ``status`` (which server answers a status check); NULL: none
evidence               what settled the route: ``location``, ``exchange``, ``caller_choice``,
                       ``default``; NULL when no route was reached
rule                   the rule that decided (a path into the rule set)
route_kind             ``municipality``, ``agent``, ``after_hours``, ``message``
municipality           the municipality routed to (a caller's choice in a ``menu``)
destination            the destination the caller was bridged to, else the first of the chain;
                       NULL when every link failed
digits                 the menu entries, comma-separated (an empty entry is a timeout)
outcome                ``completed``, ``caller_hangup``, ``message``, ``left_application``,
                       ``handed_back:REASON``, ``lost_on_reconnect``
abandoned_in           for a caller who hung up before a person or a message: the stage
                       (``answering``, ``greeting``, ``menu``, ``status``, ``hold``, ``ringing``,
                       ``whisper``, ``awaiting_accept``); NULL otherwise
answer_to_person_s     seconds from answer to a person answering (service level, p50/p90;
                       indexed with ``local_date`` where not NULL)
total_s, bridged_s     the call's length, and of its conversation
attempts               how many transfer attempts the call made
rules_version          the rule version that routed it, with the first 12 hex of its hash
rules_hash
status_check           how the caller's service-request status check ended (the values of
                       ``ivr311_status_checks_total{result}``: ``found``, ``not_found``,
                       ``slow``, ``down``, ``bad_answer``, ``no_number``, ``too_long``,
                       ``no_choice``); NULL: none was asked for, or none ended
=====================  =========================================================================

``call_record_attempts`` (one row per transfer attempt): ``record_id``, ``seq`` (0 first),
``started_at`` (the call's, repeated and indexed so per-destination figures need no join),
``destination``, ``result`` (``answered``, ``busy``, ``no_answer``, ``rejected``,
``not_accepted``, ``failed``, ``caller_hangup``) and ``ring_s``.

Strings have no length limit: a value no column foresaw never makes a batch fail.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from routing_rules.storage import report_summary
from routing_rules.storage.store import RuleStore
from routing_rules.storage.tables import Base


class CallRecordRow(Base):
    __tablename__ = "call_records"
    __table_args__ = (
        Index(
            "ix_call_records_answer_to_person_s",
            "answer_to_person_s",
            "local_date",
            sqlite_where=text("answer_to_person_s IS NOT NULL"),
            postgresql_where=text("answer_to_person_s IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    local_date: Mapped[date] = mapped_column(Date, index=True)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)
    dialled: Mapped[str] = mapped_column(String)
    number_kind: Mapped[str | None] = mapped_column(String)
    caller_npa_nxx: Mapped[str | None] = mapped_column(String)
    caller_hash: Mapped[str | None] = mapped_column(String)
    caller_failure: Mapped[str | None] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    greeting_skipped: Mapped[bool] = mapped_column(Boolean)
    zero_out: Mapped[str | None] = mapped_column(String)
    after_hours: Mapped[bool] = mapped_column(Boolean)
    menu: Mapped[str | None] = mapped_column(String)
    evidence: Mapped[str | None] = mapped_column(String)
    rule: Mapped[str | None] = mapped_column(String)
    route_kind: Mapped[str | None] = mapped_column(String)
    municipality: Mapped[str | None] = mapped_column(String)
    destination: Mapped[str | None] = mapped_column(String)
    digits: Mapped[str] = mapped_column(String)
    outcome: Mapped[str] = mapped_column(String)
    abandoned_in: Mapped[str | None] = mapped_column(String)
    answer_to_person_s: Mapped[float | None] = mapped_column(Float)
    total_s: Mapped[float | None] = mapped_column(Float)
    bridged_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(SmallInteger)
    rules_version: Mapped[int | None] = mapped_column(Integer)
    rules_hash: Mapped[str] = mapped_column(String)
    status_check: Mapped[str | None] = mapped_column(String)


class CallAttemptRow(Base):
    __tablename__ = "call_record_attempts"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("call_records.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    destination: Mapped[str] = mapped_column(String)
    result: Mapped[str] = mapped_column(String)
    ring_s: Mapped[float | None] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    destination: str
    result: str
    ring_s: float | None


@dataclass(frozen=True, slots=True)
class StoredCall:
    """One call as stored: the columns of ``call_records`` and the call's attempts.
    ``started_at`` is in UTC (SQLite keeps the wall-clock time without its offset)."""

    call_id: str
    started_at: datetime
    local_date: date
    local_hour: int
    local_weekday: int
    dialled: str
    number_kind: str | None
    caller_npa_nxx: str | None
    caller_hash: str | None
    caller_failure: str | None
    language: str
    greeting_skipped: bool
    zero_out: str | None
    after_hours: bool
    menu: str | None
    evidence: str | None
    rule: str | None
    route_kind: str | None
    municipality: str | None
    destination: str | None
    digits: str
    outcome: str
    abandoned_in: str | None
    answer_to_person_s: float | None
    total_s: float | None
    bridged_s: float | None
    rules_version: int | None
    rules_hash: str
    attempt_list: tuple[StoredAttempt, ...] = ()
    status_check: str | None = None

    def columns(self) -> dict[str, object]:
        """The ``call_records`` row (``attempts`` is the number of attempts)."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "attempt_list"}
        row["attempts"] = len(self.attempt_list)
        return row


class CallRecordStore:
    """Writes and purges call records in a rule store's database (blocking: run it in a
    thread, never on the event loop)."""

    def __init__(self, store: RuleStore) -> None:
        self.store = store

    def write(self, calls: list[StoredCall]) -> None:
        """Insert ``calls`` and their attempts, and add them to the report's summary, in one
        transaction: all of them or none."""
        if not calls:
            return
        with self.store.write_transaction() as conn:
            rows = insert_calls(conn, calls)
            counts = Counter(
                key
                for row, call in zip(rows, calls, strict=True)
                for key in report_summary.counts_of(
                    row, ((a.destination, a.result) for a in call.attempt_list)
                )
            )
            report_summary.apply(conn, counts, 1)

    def purge_batch(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest calls started before ``before`` (and their
        attempts), and take them out of the report's summary, in one short transaction;
        returns how many calls went.

        The summary loses what the deletes return, not what was selected: two controllers
        purging the same calls at once (PostgreSQL) take each out once."""
        cutoff = before.astimezone(UTC)
        r, a = CallRecordRow, CallAttemptRow
        with self.store.write_transaction() as conn:
            ids = (
                conn.execute(
                    select(r.id).where(r.started_at < cutoff).order_by(r.started_at).limit(limit)
                )
                .scalars()
                .all()
            )
            if not ids:
                return 0
            attempts: dict[int, list[tuple[str, str]]] = {}
            for record_id, destination, result in conn.execute(
                delete(a)
                .where(a.record_id.in_(ids))
                .returning(a.record_id, a.destination, a.result)
            ):
                attempts.setdefault(record_id, []).append((destination, result))
            calls = (
                conn.execute(
                    delete(r)
                    .where(r.id.in_(ids))
                    .returning(r.id, *(getattr(r, name) for name in report_summary.READ))
                )
                .mappings()
                .all()
            )
            counts = Counter(
                key
                for call in calls
                for key in report_summary.counts_of(call, attempts.get(call["id"], ()))
            )
            report_summary.apply(conn, counts, -1)
        return len(calls)


def insert_calls(conn: Connection, calls: list[StoredCall]) -> list[dict[str, object]]:
    """Insert the rows of ``calls`` and of their attempts (not the summary); returns the
    calls' rows as inserted."""
    rows = [call.columns() for call in calls]
    ids = (
        conn.execute(
            insert(CallRecordRow).returning(CallRecordRow.id, sort_by_parameter_order=True), rows
        )
        .scalars()
        .all()
    )
    attempts = [
        {
            "record_id": record_id,
            "seq": seq,
            "started_at": call.started_at,
            "destination": attempt.destination,
            "result": attempt.result,
            "ring_s": attempt.ring_s,
        }
        for record_id, call in zip(ids, calls, strict=True)
        for seq, attempt in enumerate(call.attempt_list)
    ]
    if attempts:
        conn.execute(insert(CallAttemptRow), attempts)
    return rows
