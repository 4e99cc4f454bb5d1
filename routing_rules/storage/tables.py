"""The database tables of the rule store (SQLAlchemy 2 declarative mapping).

``rule_versions`` rows are immutable; ``rule_activations`` records every apply and rollback;
``active_rules`` holds the single row naming the active version, which is what optimistic
concurrency compares against.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RuleVersionRow(Base):
    __tablename__ = "rule_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    geo_hash: Mapped[str | None] = mapped_column(String(64))
    host_id: Mapped[str] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    base_version: Mapped[int | None] = mapped_column(ForeignKey("rule_versions.version"))


class ActivationRow(Base):
    __tablename__ = "rule_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(ForeignKey("rule_versions.version"))
    previous_version: Mapped[int | None] = mapped_column(ForeignKey("rule_versions.version"))
    action: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ActiveRow(Base):
    __tablename__ = "active_rules"
    __table_args__ = (CheckConstraint("id = 1", name="active_rules_single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("rule_versions.version"))
    activation_id: Mapped[int] = mapped_column(ForeignKey("rule_activations.id"))
