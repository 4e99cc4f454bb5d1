"""Call records past the retention are purged, by themselves, and only they (SQLite, and
PostgreSQL with marker ``postgres``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ivr.metrics import Metrics
from ivr.records.purge import RecordPurger
from routing_rules.storage.call_records import (
    CallAttemptRow,
    CallRecordRow,
    CallRecordStore,
    StoredAttempt,
    StoredCall,
)
from routing_rules.storage.store import RuleStore

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def a_call(call_id: str, started_at: datetime) -> StoredCall:
    return StoredCall(
        call_id=call_id,
        started_at=started_at,
        local_date=started_at.date(),
        local_hour=started_at.hour,
        local_weekday=started_at.weekday(),
        dialled="311",
        number_kind="311",
        caller_npa_nxx="905555",
        caller_hash="0123456789abcdef",
        caller_failure=None,
        language="en",
        greeting_skipped=False,
        zero_out=None,
        after_hours=False,
        menu=None,
        evidence="exchange",
        rule="exchanges.oshawa",
        route_kind="municipality",
        municipality="oshawa",
        destination="oshawa-311",
        digits="",
        outcome="completed",
        abandoned_in=None,
        answer_to_person_s=12.5,
        total_s=80.0,
        bridged_s=60.0,
        rules_version=1,
        rules_hash="0123456789ab",
        attempt_list=(
            StoredAttempt("oshawa-311", "busy", 1.0),
            StoredAttempt("durham-agents", "answered", 4.0),
        ),
    )


def ids_left(store: RuleStore) -> tuple[list[str], int]:
    with store.engine.connect() as conn:
        calls = conn.execute(select(CallRecordRow.call_id).order_by(CallRecordRow.call_id))
        attempts = conn.execute(select(func.count()).select_from(CallAttemptRow)).scalar_one()
    return list(calls.scalars()), attempts


async def test_the_purge_deletes_only_records_older_than_the_retention(
    rule_store: RuleStore,
) -> None:
    store = rule_store
    records = CallRecordStore(store)
    retention = timedelta(days=400)
    ages = {
        "a-older": retention + timedelta(days=30),
        "b-older": retention + timedelta(days=1),
        "c-just-older": retention + timedelta(seconds=1),
        "d-just-inside": retention - timedelta(seconds=1),
        "e-recent": timedelta(days=3),
    }
    records.write([a_call(name, NOW - age) for name, age in ages.items()])
    metrics = Metrics()
    with ThreadPoolExecutor(max_workers=1) as executor:
        purger = RecordPurger(
            records.purge_batch,
            metrics,
            executor,
            retention=retention,
            clock=lambda: NOW,
            batch_size=2,  # three purged: two batches and a short one
        )
        assert await purger.purge_once() == 3
        assert await purger.purge_once() == 0
    assert ids_left(store) == (["d-just-inside", "e-recent"], 4)
    assert metrics.registry.get_sample_value("ivr311_call_records_purged_total") == 3


async def test_the_purge_runs_by_itself(rule_store: RuleStore) -> None:
    store = rule_store
    records = CallRecordStore(store)
    records.write([a_call("old", NOW - timedelta(days=500)), a_call("new", NOW)])
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()

    def purge_batch(before: datetime, limit: int) -> int:
        deleted = records.purge_batch(before, limit)
        if deleted < limit:
            loop.call_soon_threadsafe(finished.set)
        return deleted

    with ThreadPoolExecutor(max_workers=1) as executor:
        purger = RecordPurger(
            purge_batch, Metrics(), executor, retention=timedelta(days=400), clock=lambda: NOW
        )
        running = asyncio.create_task(purger.run())
        try:
            await asyncio.wait_for(finished.wait(), 10)
        finally:
            running.cancel()
    assert ids_left(store) == (["new"], 2)
