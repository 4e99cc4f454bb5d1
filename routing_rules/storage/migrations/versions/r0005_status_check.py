"""``call_records.status_check``: how the caller's service-request status check ended.

NULL for the calls stored before (none could be asked for), so the report's summary, which
counts only calls that have one, needs nothing added.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("status_check", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("status_check")
