"""The report's summary of the call records (``call_report_counts``), filled from the rows.

A report reads counts per local date from ``call_report_counts`` (see
``routing_rules.storage.report_summary``) instead of scanning every call, and the times from
answer to a person through an index led by that time (the few rows of one second at a time).
The summary is filled here from the calls already stored, with the same recount a test
compares it with. On SQLite the report's covering index (0003) goes, the plain
``local_date`` index coming back: the report no longer scans the rows, so a record write
updates a narrow index again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from routing_rules.storage.migrations.versions.r0003_report_covering_index import REPORT_COLUMNS
from routing_rules.storage.report_recount import refill

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMED = sa.text("answer_to_person_s IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "call_report_counts",
        sa.Column("local_date", sa.Date(), primary_key=True),
        sa.Column("figure", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), primary_key=True),
        sa.Column("detail", sa.String(), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
    )
    refill(op.get_bind(), status_checks=False)  # the column comes with 0005
    op.create_index(
        "ix_call_records_answer_to_person_s",
        "call_records",
        ["answer_to_person_s", "local_date"],
        sqlite_where=TIMED,
        postgresql_where=TIMED,
    )
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_call_records_local_date", "call_records", ["local_date"])
        op.drop_index("ix_call_records_report", table_name="call_records")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_call_records_report", "call_records", REPORT_COLUMNS)
        op.drop_index("ix_call_records_local_date", table_name="call_records")
    op.drop_index("ix_call_records_answer_to_person_s", table_name="call_records")
    op.drop_table("call_report_counts")
