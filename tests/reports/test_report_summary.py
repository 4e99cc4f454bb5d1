"""The report's summary (``call_report_counts``) always equals a recount of the stored calls:
after batches of writes, after purges, and when a store of the previous schema is migrated;
and the report read from it still equals a count of the calls made one by one (SQLite, and
PostgreSQL with marker ``postgres``)."""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from report_testing import expected_document, random_calls
from schema_testing import upgrade_to
from sqlalchemy import create_engine, event, inspect, select

from ivr.reports import build_report, render
from ivr.reports.period import ReportRange
from routing_rules.storage.call_records import CallRecordStore, StoredCall, insert_calls
from routing_rules.storage.report_recount import recount
from routing_rules.storage.report_summary import ReportCountRow
from routing_rules.storage.store import RuleStore

MARCH = ReportRange(date(2026, 3, 1), date(2026, 3, 31), "week")
THRESHOLDS = (20.0, 30.0, 12.5)


def summary_and_recount(
    store: RuleStore,
) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    c = ReportCountRow
    with store.engine.connect() as conn:
        stored = conn.execute(select(c.local_date, c.figure, c.value, c.detail, c.calls))
        counted = conn.execute(recount(conn.dialect.name))
        return {tuple(row) for row in stored}, {tuple(row) for row in counted}


def assert_summary_is_a_recount(store: RuleStore) -> None:
    stored, counted = summary_and_recount(store)
    assert stored == counted


def report_document(store: RuleStore, period: ReportRange) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        render(build_report(store.engine, period, THRESHOLDS), "json")
    )
    del document["schema"]
    return document


def edge_calls(first: date) -> list[StoredCall]:
    """Calls whose values a summary could confuse: NULLs, an empty string, values no list
    foresaw, a menu chosen without a municipality, times on and around the thresholds."""
    [model] = random_calls(seed=1, count=1, first=first, days=1)
    edges = [
        {"number_kind": None, "zero_out": None, "evidence": None, "answer_to_person_s": 20.0},
        {"number_kind": "", "language": "de", "answer_to_person_s": 19.999},
        {"menu": "exchange:oshawa", "evidence": "caller_choice", "municipality": None},
        {"menu": "exchange:oshawa", "evidence": "caller_choice", "municipality": ""},
        {"menu": "agent", "abandoned_in": "somewhere-new", "answer_to_person_s": 30.0},
        {"outcome": "handed_back:other", "answer_to_person_s": 12.5},
        {"answer_to_person_s": 0.0},
    ]
    return [
        dataclasses.replace(model, call_id=f"edge-{n}", **changes)  # type: ignore[arg-type]
        for n, changes in enumerate(edges)
    ]


def test_writes_and_purges_keep_the_summary_equal_to_a_recount(store_url: str) -> None:
    calls = random_calls(seed=7, count=900, first=MARCH.start, days=31)
    calls += edge_calls(date(2026, 3, 15))
    calls.sort(key=lambda c: c.started_at)
    store = RuleStore.open(store_url)
    try:
        records = CallRecordStore(store)
        for n in range(0, len(calls), 200):  # batches sharing dates
            records.write(calls[n : n + 200])
        assert_summary_is_a_recount(store)
        assert report_document(store, MARCH) == expected_document(
            calls, MARCH.start, MARCH.end, MARCH.by, THRESHOLDS
        )

        cutoff = datetime(2026, 3, 16, 7, 30, tzinfo=UTC)
        while records.purge_batch(cutoff, 64):
            pass
        left = [c for c in calls if c.started_at >= cutoff]
        assert len(left) < len(calls)
        assert_summary_is_a_recount(store)
        assert report_document(store, MARCH) == expected_document(
            left, MARCH.start, MARCH.end, MARCH.by, THRESHOLDS
        )

        records.purge_batch(cutoff + timedelta(days=60), len(calls))
        stored, counted = summary_and_recount(store)
        assert stored == counted == set()
    finally:
        store.close()


def test_a_store_of_the_previous_schema_gains_a_summary_of_its_calls(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls stored at 0003 (before the status-check column of 0005, so without one)."""
    calls = [
        dataclasses.replace(c, status_check=None)
        for c in random_calls(seed=13, count=400, first=MARCH.start, days=31)
    ]
    engine = create_engine(store_url)
    columns = StoredCall.columns
    with engine.begin() as conn:
        upgrade_to(conn, "0003")
        with monkeypatch.context() as before_0005:
            before_0005.setattr(
                StoredCall,
                "columns",
                lambda call: {k: v for k, v in columns(call).items() if k != "status_check"},
            )
            insert_calls(conn, calls)
    engine.dispose()

    store = RuleStore.open(store_url)
    try:
        stored, counted = summary_and_recount(store)
        assert stored == counted
        assert sum(n for _, figure, _, _, n in stored if figure == "hour") == 400
        assert report_document(store, MARCH) == expected_document(
            calls, MARCH.start, MARCH.end, MARCH.by, THRESHOLDS
        )
        names = {ix["name"] for ix in inspect(store.engine).get_indexes("call_records")}
        assert "ix_call_records_answer_to_person_s" in names
        assert "ix_call_records_report" not in names
    finally:
        store.close()


@pytest.mark.postgres
def test_two_controllers_purging_the_same_calls_take_each_out_once(postgres_url: str) -> None:
    """Both select the same oldest calls before either deletes them: the second's deletes
    find them gone, and the summary loses each call once."""
    calls = random_calls(seed=5, count=300, first=MARCH.start, days=31)
    store = RuleStore.open(postgres_url)
    try:
        CallRecordStore(store).write(calls)
        both_selected = threading.Barrier(2, timeout=30)

        @event.listens_for(store.engine, "before_cursor_execute")
        def meet(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("DELETE FROM call_record_attempts"):
                both_selected.wait()

        cutoff = datetime(2026, 3, 20, tzinfo=UTC)
        with ThreadPoolExecutor(2) as pool:
            purged = list(
                pool.map(lambda _: CallRecordStore(store).purge_batch(cutoff, 1000), range(2))
            )
        event.remove(store.engine, "before_cursor_execute", meet)
        assert sorted(purged) == [0, sum(1 for c in calls if c.started_at < cutoff)]
        assert_summary_is_a_recount(store)
    finally:
        store.close()
