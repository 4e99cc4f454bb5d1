"""Call records benchmark: what a call's end costs the event loop, and the store's write rate.

``RECORDS`` decision records (each with two transfer attempts, as a call that fell back once)
go through `ivr.records.CallRecords` into a fresh store, as the controller hands them over:

* ``submit_us`` — p50/p99/max of one `CallRecords.submit` on the event loop (conversion to the
  stored row included), timed call by call: what a call's end pays for its record;
* ``writes_per_second`` — records submitted all at once until the writer has them all in the
  store (batches in the records' own thread), sustained over every record;
  the records are prepared beforehand and kept out of the garbage collector's full passes
  (`freeze_long_lived_objects`, as ``ivr311 run`` does at start), so ``max`` is the
  hand-over's own, not a full collection of the benchmark's 20,000 prepared records;
* ``purge_per_second`` — the same records purged once they are past the retention.

SQLite always; PostgreSQL too when the server ``IVR311_TEST_POSTGRES_URL`` names (default: the
local one) answers, in a schema of its own that is dropped afterwards. ``run()`` returns the
report's ``call_records`` section.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ivr.call.record import DecisionRecord, TransferAttempt
from ivr.controller.process import freeze_long_lived_objects
from ivr.metrics import Metrics
from ivr.records import CallRecords
from routing_rules.storage.call_records import CallRecordStore
from routing_rules.storage.store import RuleStore

RECORDS = 20_000
ZONE = ZoneInfo("America/Toronto")
STARTED = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
PEAK_CALLS_PER_SECOND = 10.0
"""A large region's busiest second, generously: a million calls a year average 0.03 a second."""
POSTGRES_ENV = "IVR311_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def records(count: int) -> list[DecisionRecord]:
    made = []
    for n in range(count):
        record = DecisionRecord(
            call_id=f"bench-{n}",
            dialled="311",
            caller="905555-0123456789abcdef",
            rules_version=1,
            rules_hash="0123456789ab",
            started_at=(STARTED + timedelta(seconds=n)).isoformat(),
            digits=("2",),
            evidence="caller_choice",
            rule="menus.exchange",
            kind="municipality",
            municipality="oshawa",
            destination="durham-agents",
            attempts=[
                TransferAttempt("oshawa-311", "busy", 1.5),
                TransferAttempt("durham-agents", "answered", 4.0),
            ],
            outcome="completed",
            durations={"answer_to_person_s": 24.0, "total_s": 180.0, "bridged_s": 140.0},
            number_kind="311",
            greeting_skipped=True,
            menu="exchange:oshawa",
        )
        made.append(record)
    return made


def _us(values_ns: list[int]) -> dict[str, float]:
    ordered = sorted(values_ns)
    return {
        "p50": round(statistics.median(ordered) / 1000, 2),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1] / 1000, 2),
        "max": round(ordered[-1] / 1000, 2),
    }


async def _measure(store: RuleStore) -> dict[str, Any]:
    batch = records(RECORDS)
    freeze_long_lived_objects()  # as `ivr311 run` does; the prepared records are the bench's own
    now = [STARTED]
    calls = CallRecords(
        CallRecordStore(store),
        Metrics(),
        capacity=RECORDS,
        retention_days=400,
        clock=lambda: now[0],
    )
    calls.writer.start()
    submit_ns = []
    started = time.perf_counter()
    for record in batch:
        before = time.perf_counter_ns()
        calls.submit(record, ZONE)
        submit_ns.append(time.perf_counter_ns() - before)
    await calls.writer.flush()
    write_s = time.perf_counter() - started
    now[0] = STARTED + timedelta(days=800)
    started = time.perf_counter()
    purged = await calls.purger.purge_once()
    purge_s = time.perf_counter() - started
    await calls.close()
    writes_per_second = round(RECORDS / write_s)
    return {
        "records": RECORDS,
        "submit_us": _us(submit_ns),
        "writes_per_second": writes_per_second,
        "writes_vs_peak_call_rate": round(writes_per_second / PEAK_CALLS_PER_SECOND),
        "purged": purged,
        "purge_per_second": round(purged / purge_s),
    }


@contextmanager
def _postgres_url() -> Iterator[str | None]:
    """A fresh schema on the benchmark's PostgreSQL, or None when it does not answer."""
    base = os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES_URL)
    admin = create_engine(base)
    try:
        with admin.connect():
            pass
    except OperationalError:
        admin.dispose()
        yield None
        return
    schema = f"ivr311_bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _on(url: str) -> dict[str, Any]:
    store = RuleStore.open(url)
    try:
        return asyncio.run(_measure(store))
    finally:
        store.close()


def run() -> dict[str, object]:
    section: dict[str, object] = {"peak_calls_per_second": PEAK_CALLS_PER_SECOND}
    with tempfile.TemporaryDirectory() as tmp:
        section["sqlite"] = _on(f"sqlite:///{Path(tmp) / 'rules.db'}")
    with _postgres_url() as url:
        section["postgresql"] = _on(url) if url is not None else {"skipped": "not reachable"}
    return {"call_records": section}
