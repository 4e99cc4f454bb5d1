"""A store of a previous schema gains the call records' tables, and then the report's covering
index, when it is next opened (SQLite, and PostgreSQL with marker ``postgres``)."""

from __future__ import annotations

from datetime import date

from alembic import command
from alembic.config import Config
from report_testing import random_calls
from sqlalchemy import create_engine, inspect

from ivr.reports import build_report
from ivr.reports.period import ReportRange
from routing_rules.geoview import GeoLookup
from routing_rules.storage.call_records import CallRecordStore
from routing_rules.storage.reader import SCHEMA_HEAD
from routing_rules.storage.store import _MIGRATIONS, RuleStore


def _store_at(store_url: str, revision: str) -> RuleStore:
    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return RuleStore(engine)


def test_a_store_of_the_previous_schema_gains_the_call_records(
    store_url: str, durham_text: str, geo: GeoLookup
) -> None:
    previous = _store_at(store_url, "0001")
    engine = previous.engine
    try:
        assert previous.schema_revision() == "0001"
        previous.apply(durham_text, author="alice", comment="before", base_version=None, geo=geo)
        assert "call_records" not in inspect(engine).get_table_names()
    finally:
        previous.close()

    store = RuleStore.open(store_url)
    try:
        assert store.schema_revision() == SCHEMA_HEAD
        assert store.active_version() == 1
        assert store.get(1).comment == "before"
        schema = inspect(store.engine)
        assert {"call_records", "call_record_attempts"} <= set(schema.get_table_names())
        indexed = {tuple(ix["column_names"]) for ix in schema.get_indexes("call_records")}
        assert {("started_at",), ("call_id",)} <= indexed
        assert any(columns[0] == "local_date" for columns in indexed)
    finally:
        store.close()


def test_calls_recorded_before_the_report_index_report_the_same_after_it(store_url: str) -> None:
    """0002 → 0003: the records stay, and a report over them gives the same figures; on SQLite
    the report reads the covering index that replaced the plain ``local_date`` one."""
    period = ReportRange(date(2026, 3, 1), date(2026, 3, 31), "week")
    previous = _store_at(store_url, "0002")
    try:
        CallRecordStore(previous).write(
            random_calls(seed=13, count=400, first=period.start, days=31)
        )
        before = build_report(previous.engine, period)
    finally:
        previous.close()

    store = RuleStore.open(store_url)
    try:
        assert store.schema_revision() == SCHEMA_HEAD
        after = build_report(store.engine, period)
        assert after.total == before.total == 400
        assert after == before
        if store.engine.dialect.name == "sqlite":
            names = {ix["name"] for ix in inspect(store.engine).get_indexes("call_records")}
            assert "ix_call_records_report" in names
            assert "ix_call_records_local_date" not in names
    finally:
        store.close()
