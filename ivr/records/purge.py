"""`RecordPurger`: call records older than the retention are deleted, by themselves.

Every ``interval_s`` (and once at start) the purger deletes the records started before
``now - retention``, ``batch_size`` calls per transaction, so a long purge never holds the
store's write lock for long and call records keep being written between its batches. It runs
in the records' own thread (never on the event loop); a failure is logged and tried again at
the next interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timedelta

import structlog

from ivr.logs import exception_fields
from ivr.metrics import Metrics

log = structlog.get_logger(__name__)

PurgeBatch = Callable[[datetime, int], int]
"""``(before, limit)`` → how many calls started before ``before`` were deleted (≤ limit)."""


class RecordPurger:
    def __init__(
        self,
        purge_batch: PurgeBatch,
        metrics: Metrics,
        executor: Executor,
        *,
        retention: timedelta,
        clock: Callable[[], datetime],
        interval_s: float = 3600.0,
        batch_size: int = 1000,
    ) -> None:
        self._purge_batch = purge_batch
        self._metrics = metrics
        self._executor = executor
        self.retention = retention
        self._clock = clock
        self.interval_s = interval_s
        self.batch_size = batch_size

    async def purge_once(self) -> int:
        """Delete every record older than the retention now; returns how many went."""
        loop = asyncio.get_running_loop()
        before = self._clock() - self.retention
        total = 0
        while True:
            deleted = await loop.run_in_executor(
                self._executor, self._purge_batch, before, self.batch_size
            )
            total += deleted
            self._metrics.call_records_purged.inc(deleted)
            if deleted < self.batch_size:
                break
        if total:
            log.info("call_records.purged", records=total, before=before.isoformat())
        return total

    async def run(self) -> None:
        """Purge now and then every ``interval_s``, until cancelled."""
        while True:
            try:
                await self.purge_once()
            except Exception as exc:
                log.warning("call_records.purge_failed", **exception_fields(exc))
            await asyncio.sleep(self.interval_s)
