"""``call_records.status_check``: how the caller's service-request status check ended.

NULL for the calls stored before (none could be asked for) and for calls that asked for none.
On SQLite the report's covering index (0003) takes the column too, so a report still reads
the index alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from routing_rules.storage.migrations.versions.r0003_report_covering_index import REPORT_COLUMNS

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_call_records_report"


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("status_check", sa.String(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(INDEX, table_name="call_records")
        op.create_index(INDEX, "call_records", [*REPORT_COLUMNS, "status_check"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(INDEX, table_name="call_records")
        op.create_index(INDEX, "call_records", REPORT_COLUMNS)
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("status_check")
