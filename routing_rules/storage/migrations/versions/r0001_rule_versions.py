"""Rule versions, activations and the active-version row.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("geo_hash", sa.String(64), nullable=True),
        sa.Column("host_id", sa.String(100), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "base_version", sa.Integer(), sa.ForeignKey("rule_versions.version"), nullable=True
        ),
    )
    op.create_index("ix_rule_versions_content_hash", "rule_versions", ["content_hash"])
    op.create_table(
        "rule_activations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer(), sa.ForeignKey("rule_versions.version"), nullable=False),
        sa.Column(
            "previous_version",
            sa.Integer(),
            sa.ForeignKey("rule_versions.version"),
            nullable=True,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "active_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), sa.ForeignKey("rule_versions.version"), nullable=False),
        sa.Column(
            "activation_id",
            sa.Integer(),
            sa.ForeignKey("rule_activations.id"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name="active_rules_single_row"),
    )


def downgrade() -> None:
    op.drop_table("active_rules")
    op.drop_table("rule_activations")
    op.drop_index("ix_rule_versions_content_hash", table_name="rule_versions")
    op.drop_table("rule_versions")
