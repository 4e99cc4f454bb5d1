"""`RecordWriter`: records handed over at a call's end, written in batches off the call path.

`RecordWriter.submit` never waits: it appends to an in-memory queue, or, when ``capacity``
records are held already (queued, or in the batch being written), drops the record and counts
it (``ivr311_call_records_dropped_total``). So exactly the records beyond the bound are lost
while the store is slow or down, and a call never waits on the database.

One task takes up to ``batch_size`` records at a time and runs the blocking ``write`` in the
executor it is given (a thread of its own, so a hung database holds no thread the event loop
needs). It first lets records gather for ``gather_s``, cut short by `flush` or once a batch
or half the capacity is queued (so gathering never drops a record the writer could have
written): a transaction per ended call cost a busy controller about a fifth of its CPU. A batch that
fails goes back to the head of the queue and is tried again after a capped exponential pause.
Both waits run on the ``scheduler`` it is given (the event loop, or a virtual clock in
tests); `flush` cuts them short. A batch is written in one transaction, so a retried batch
is never half in the store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError

from ivr.call.timers import LoopScheduler, Scheduler
from ivr.logs import exception_fields
from ivr.metrics import Metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")


class RecordWriter(Generic[T]):
    """The bounded queue of records and the task that writes them (see the module docstring)."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        metrics: Metrics,
        executor: Executor,
        *,
        capacity: int,
        batch_size: int = 500,
        gather_s: float = 1.0,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._write = write
        self._metrics = metrics
        self._executor = executor
        self.capacity = capacity
        self.batch_size = batch_size
        self.gather_s = gather_s
        self._enough = min(batch_size, max(1, capacity // 2))
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._scheduler = scheduler or LoopScheduler()
        self._queue: collections.deque[T] = collections.deque()
        self._in_flight = 0
        self._work = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._batch_ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._dropping = False
        self.dropped = 0
        """Records dropped since the start (``ivr311_call_records_dropped_total``)."""

    @property
    def held(self) -> int:
        """Records not yet written: queued, or in the batch being written."""
        return len(self._queue) + self._in_flight

    def submit(self, item: T) -> bool:
        """Queue ``item`` for writing (never waits); False when it was dropped."""
        if self.held >= self.capacity:
            self.count_dropped(1)
            if not self._dropping:
                self._dropping = True
                log.warning("call_records.dropping", capacity=self.capacity)
            return False
        self._queue.append(item)
        self._metrics.call_records_queued.set(self.held)
        self._idle.clear()
        self._work.set()
        if len(self._queue) >= self._enough:
            self._batch_ready.set()
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-records-writer")

    async def flush(self) -> None:
        """Wait until every record held is written (a pause to gather records or after a
        failure is cut short)."""
        self._retry_now.set()
        self._batch_ready.set()
        await self._idle.wait()
        self._retry_now.clear()

    async def close(self, timeout_s: float) -> None:
        """Write what is held within ``timeout_s``, then stop; what is left is counted as
        dropped (a batch the database was still writing may land all the same)."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        lost = self.held
        if lost:
            self.count_dropped(lost)
            log.warning("call_records.lost_at_shutdown", records=lost)
        self._queue.clear()
        self._in_flight = 0
        self._metrics.call_records_queued.set(0)

    def count_dropped(self, count: int) -> None:
        """Count ``count`` records lost."""
        self.dropped += count
        self._metrics.call_records_dropped.inc(count)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pause = self._retry_initial_s
        while True:
            await self._work.wait()
            if not self._queue:
                self._work.clear()
                self._idle.set()
                continue
            await self._gather()
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._in_flight = len(batch)
            try:
                await loop.run_in_executor(self._executor, self._write, batch)
            except Exception as exc:
                self._queue.extendleft(reversed(batch))
                self._in_flight = 0
                self._metrics.call_records_write_failures.inc()
                log.warning(
                    "call_records.write_failed",
                    records=len(batch),
                    retry_in_s=pause,
                    **exception_fields(_cause(exc)),
                )
                await self._pause(pause)
                pause = min(pause * 2, self._retry_max_s)
                continue
            self._in_flight = 0
            pause = self._retry_initial_s
            self._metrics.call_records_written.inc(len(batch))
            self._metrics.call_records_queued.set(self.held)
            if self._dropping:
                self._dropping = False
                log.info("call_records.writing_again", dropped_so_far=self.dropped)

    async def _gather(self) -> None:
        """Wait ``gather_s`` for more records unless enough are queued or a flush is waiting."""
        if len(self._queue) < self._enough:
            over = self._scheduler.call_later(self.gather_s, self._batch_ready.set)
            try:
                await self._batch_ready.wait()
            finally:
                over.cancel()
        self._batch_ready.clear()

    async def _pause(self, seconds: float) -> None:
        over = self._scheduler.call_later(seconds, self._retry_now.set)
        try:
            await self._retry_now.wait()
        finally:
            over.cancel()
            self._retry_now.clear()


def _cause(exc: Exception) -> BaseException:
    """The driver's own error under SQLAlchemy's (whose message repeats the statement)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc
