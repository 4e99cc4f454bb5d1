"""Hearing about a newly activated rule version.

PostgreSQL: every apply and rollback sends ``NOTIFY ivr311_rules`` with a JSON payload
(``{"version": N, "action": "apply"|"rollback"}``) inside its transaction. The listener below
uses ``LISTEN`` and reads the active version after every (re)connect, so nothing activated while
it was disconnected is missed, and after every notification (the channel belongs to the whole
database: a store in another schema of it may have sent that one). While the server is
unreachable it tries again after a jittered backoff capped at `RECONNECT_CAP_S`, so an
activation made once the server is back reaches every controller within that cap plus one
read, whatever the outage lasted. The loss and the return are logged once each
(``rules.listen_lost``, ``rules.listen_restored``), the attempts in between at debug level.
SQLite has no notifications: the listener polls :meth:`RuleStore.active_version`, one indexed
read.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Callable

import psycopg
import structlog
from sqlalchemy.exc import SQLAlchemyError

from routing_rules.storage.errors import failure_reason
from routing_rules.storage.store import NOTIFY_CHANNEL, RuleStore

log = structlog.get_logger(__name__)

RECONNECT_INITIAL_S = 0.1
RECONNECT_CAP_S = 1.0
"""Longest wait between attempts to reach an unreachable server. Small on purpose: an attempt
costs one refused connection, and a controller must hear of an activation made after the
server returns within 2 s however long it was down (issue 11)."""
_STORE_FAILURES = (psycopg.Error, SQLAlchemyError, OSError)


async def watch_active_version(
    store: RuleStore,
    *,
    poll_interval_s: float = 2.0,
    reachable: Callable[[bool], None] = lambda _up: None,
) -> AsyncGenerator[int | None, None]:
    """Yield the active version at once, then again every time a different one is activated,
    and (PostgreSQL) again after every reconnect, so a consumer that missed one catches up.

    Runs until the consumer stops iterating; an unreachable store never ends it, and
    ``reachable`` hears whether the store answers (False on a failure, True on the next
    success). Database reads happen in a worker thread so the event loop never blocks.
    """
    lost = _Outage(reachable)
    if store.is_postgres:
        async for version in _listen(store, lost):
            yield version
    else:
        async for version in _poll(store, poll_interval_s, lost):
            yield version


def retry_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """The wait before reconnect attempt ``attempt`` (0-based): doubling from
    `RECONNECT_INITIAL_S` up to `RECONNECT_CAP_S`, between half and all of it at random, so
    controllers that lost the server together do not come back in step."""
    ceiling: float = min(RECONNECT_CAP_S, RECONNECT_INITIAL_S * 2.0 ** min(attempt, 32))
    return ceiling * (0.5 + rand() / 2)


async def _poll(
    store: RuleStore, interval_s: float, lost: _Outage
) -> AsyncGenerator[int | None, None]:
    last: int | None = None
    first = True
    while True:
        try:
            version = await asyncio.to_thread(store.active_version)
        except _STORE_FAILURES as exc:
            lost.failed(exc)
        else:
            lost.ended()
            if first or version != last:
                first = False
                last = version
                yield version
        await asyncio.sleep(interval_s)


def _libpq_url(store: RuleStore) -> str:
    return store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _listen(store: RuleStore, lost: _Outage) -> AsyncGenerator[int | None, None]:
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                _libpq_url(store), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                last = await asyncio.to_thread(store.active_version)
                lost.ended()
                yield last
                async for _note in conn.notifies():
                    version = await asyncio.to_thread(store.active_version)
                    if version != last:
                        last = version
                        yield version
        except _STORE_FAILURES as exc:
            lost.failed(exc)
        await asyncio.sleep(retry_delay(max(lost.attempts - 1, 0)))


class _Outage:
    """Whether the store is reachable: logs the loss and the return once each."""

    def __init__(self, reachable: Callable[[bool], None]) -> None:
        self.attempts = 0
        self._since = 0.0
        self._reachable = reachable

    def failed(self, exc: BaseException) -> None:
        self._reachable(False)
        reason = failure_reason(exc)
        if self.attempts == 0:
            self._since = time.monotonic()
            log.warning("rules.listen_lost", error=reason)
        else:
            log.debug("rules.listen_retry_failed", error=reason, attempt=self.attempts)
        self.attempts += 1

    def ended(self) -> None:
        self._reachable(True)
        if self.attempts:
            log.info(
                "rules.listen_restored",
                down_s=round(time.monotonic() - self._since, 3),
                attempts=self.attempts,
            )
        self.attempts = 0
