"""A store of a previous schema gains the call records' tables, then the report's covering
index and the status-check column, when it is next opened (SQLite, and PostgreSQL with
marker ``postgres``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from alembic import command
from alembic.config import Config
from report_testing import expected_document, random_calls
from sqlalchemy import create_engine, insert, inspect

from ivr.reports import build_report
from ivr.reports.period import ReportRange
from ivr.reports.render_json import document
from routing_rules.geoview import GeoLookup
from routing_rules.storage.call_records import CallRecordRow
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


def test_calls_recorded_before_the_status_column_report_as_a_tally_of_them(
    store_url: str,
) -> None:
    """0002 → 0003 → 0004: the records stay, and a report over them gives the figures a tally
    of them gives, no status check among them; on SQLite the report reads the covering index
    that replaced the plain ``local_date`` one, the status column in it."""
    period = ReportRange(date(2026, 3, 1), date(2026, 3, 31), "week")
    calls = [
        replace(call, status_check=None, attempt_list=())
        for call in random_calls(seed=13, count=400, first=period.start, days=31)
    ]
    previous = _store_at(store_url, "0002")
    try:
        with previous.write_transaction() as conn:
            columns = [call.columns() for call in calls]
            for row in columns:
                del row["status_check"]  # not a column before 0004
            conn.execute(insert(CallRecordRow.__table__), columns)
    finally:
        previous.close()

    store = RuleStore.open(store_url)
    try:
        assert store.schema_revision() == SCHEMA_HEAD
        after = document(build_report(store.engine, period))
        expected = expected_document(calls, period.start, period.end, "week", (20.0, 30.0))
        assert {k: v for k, v in after.items() if k != "schema"} == expected
        assert after["status_checks"]["total"] == 0
        if store.engine.dialect.name == "sqlite":
            indexes = {ix["name"]: ix for ix in inspect(store.engine).get_indexes("call_records")}
            assert "status_check" in indexes["ix_call_records_report"]["column_names"]
            assert "ix_call_records_local_date" not in indexes
    finally:
        store.close()
