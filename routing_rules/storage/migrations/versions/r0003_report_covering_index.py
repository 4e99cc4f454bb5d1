"""SQLite: the ``local_date`` index of ``call_records`` becomes a covering index of the report.

``ivr311 report`` scans a range of ``local_date`` and reads a dozen narrow columns of each call.
SQLite stores a row's columns together, so through the plain ``local_date`` index it reads
every call's whole row (the hashes, the rule path, the digits …) and spends most of a year's
report doing so. An index holding the report's columns after ``local_date`` lets it read the
index alone (80 MB against the rows' 200 MB, a million calls); it replaces the ``local_date``
index, which its first column serves, so a record write still updates as many indexes.

PostgreSQL keeps its indexes: it meets the report's target without one, and a B-tree entry
there has a size limit that long unforeseen strings in these columns could exceed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REPORT_COLUMNS = [
    "local_date",
    "local_hour",
    "local_weekday",
    "after_hours",
    "greeting_skipped",
    "attempts",
    "number_kind",
    "language",
    "zero_out",
    "evidence",
    "outcome",
    "abandoned_in",
    "menu",
    "municipality",
    "answer_to_person_s",
]
"""Every column ``ivr.reports.query`` reads from ``call_records``, the range's first."""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_call_records_report", "call_records", REPORT_COLUMNS)
    op.drop_index("ix_call_records_local_date", table_name="call_records")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_call_records_local_date", "call_records", ["local_date"])
    op.drop_index("ix_call_records_report", table_name="call_records")
