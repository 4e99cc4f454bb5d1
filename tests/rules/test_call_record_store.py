"""A store of a previous schema gains the call records' tables when it is next opened (SQLite,
and PostgreSQL with marker ``postgres``); the report's summary is tested in
``tests/reports/test_report_summary.py``."""

from __future__ import annotations

from schema_testing import upgrade_to
from sqlalchemy import create_engine, inspect

from routing_rules.geoview import GeoLookup
from routing_rules.storage.reader import SCHEMA_HEAD
from routing_rules.storage.store import RuleStore


def _store_at(store_url: str, revision: str) -> RuleStore:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        upgrade_to(conn, revision)
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
        assert "status_check" in {c["name"] for c in schema.get_columns("call_records")}
    finally:
        store.close()
