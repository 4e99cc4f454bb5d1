"""`CallRecords`: the writer and the purger of one controller, on its rule store.

Both run their database work in one thread of their own, one statement at a time, so a purge
and a batch of records never contend for SQLite's write lock, and a database that hangs holds
that thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from ivr.call.record import DecisionRecord
from ivr.call.timers import Scheduler
from ivr.logs import exception_fields
from ivr.metrics import Metrics
from ivr.records.entry import stored_call
from ivr.records.purge import RecordPurger
from ivr.records.writer import RecordWriter
from routing_rules.storage.call_records import CallRecordStore, StoredCall

log = structlog.get_logger(__name__)


class CallRecords:
    """Stores the records of ended calls (`submit`) and purges old ones."""

    def __init__(
        self,
        store: CallRecordStore,
        metrics: Metrics,
        *,
        capacity: int,
        retention_days: int,
        clock: Callable[[], datetime],
        scheduler: Scheduler | None = None,
    ) -> None:
        """``scheduler`` runs the writer's pauses between retries (default: the event loop)."""
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-records")
        self.writer: RecordWriter[StoredCall] = RecordWriter(
            store.write, metrics, self._executor, capacity=capacity, scheduler=scheduler
        )
        self.purger = RecordPurger(
            store.purge_batch,
            metrics,
            self._executor,
            retention=timedelta(days=retention_days),
            clock=clock,
        )
        self._purging: asyncio.Task[None] | None = None

    def submit(self, record: DecisionRecord, zone: ZoneInfo) -> None:
        """Hand over an ended call's record (never waits; see `RecordWriter.submit`); ``zone``
        is the host's time zone. A record that cannot be stored is logged and counted as
        dropped, never raised to the call."""
        try:
            row = stored_call(record, zone)
        except Exception as exc:
            self.writer.count_dropped(1)
            log.error("call_records.unstorable", **exception_fields(exc))
            return
        self.writer.submit(row)

    def start(self) -> None:
        self.writer.start()
        if self._purging is None:
            self._purging = asyncio.create_task(self.purger.run(), name="call-records-purge")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop purging, write what is held within ``timeout_s``, and let the thread go."""
        if self._purging is not None:
            self._purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purging
            self._purging = None
        await self.writer.close(timeout_s)
        self._executor.shutdown(wait=False, cancel_futures=True)
