"""Call records and their transfer attempts (see ``routing_rules.storage.call_records``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("dialled", sa.String(), nullable=False),
        sa.Column("number_kind", sa.String(), nullable=True),
        sa.Column("caller_npa_nxx", sa.String(), nullable=True),
        sa.Column("caller_hash", sa.String(), nullable=True),
        sa.Column("caller_failure", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("greeting_skipped", sa.Boolean(), nullable=False),
        sa.Column("zero_out", sa.String(), nullable=True),
        sa.Column("after_hours", sa.Boolean(), nullable=False),
        sa.Column("menu", sa.String(), nullable=True),
        sa.Column("evidence", sa.String(), nullable=True),
        sa.Column("rule", sa.String(), nullable=True),
        sa.Column("route_kind", sa.String(), nullable=True),
        sa.Column("municipality", sa.String(), nullable=True),
        sa.Column("destination", sa.String(), nullable=True),
        sa.Column("digits", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("abandoned_in", sa.String(), nullable=True),
        sa.Column("answer_to_person_s", sa.Float(), nullable=True),
        sa.Column("total_s", sa.Float(), nullable=True),
        sa.Column("bridged_s", sa.Float(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=True),
        sa.Column("rules_hash", sa.String(), nullable=False),
    )
    op.create_index("ix_call_records_call_id", "call_records", ["call_id"])
    op.create_index("ix_call_records_started_at", "call_records", ["started_at"])
    op.create_index("ix_call_records_local_date", "call_records", ["local_date"])
    op.create_table(
        "call_record_attempts",
        sa.Column(
            "record_id",
            sa.Integer(),
            sa.ForeignKey("call_records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.SmallInteger(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("result", sa.String(), nullable=False),
        sa.Column("ring_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_call_record_attempts_started_at", "call_record_attempts", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_call_record_attempts_started_at", table_name="call_record_attempts")
    op.drop_table("call_record_attempts")
    op.drop_index("ix_call_records_local_date", table_name="call_records")
    op.drop_index("ix_call_records_started_at", table_name="call_records")
    op.drop_index("ix_call_records_call_id", table_name="call_records")
    op.drop_table("call_records")
