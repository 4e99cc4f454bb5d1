"""Hearing about a newly activated rule version.

PostgreSQL: every apply and rollback sends ``NOTIFY ivr311_rules`` with a JSON payload
(``{"version": N, "action": "apply"|"rollback"}``) inside its transaction; the listener below
uses ``LISTEN`` and re-reads the active version after every (re)connect, so nothing activated
while it was disconnected is missed. SQLite has no notifications: the listener polls
:meth:`RuleStore.active_version`, one indexed read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

import psycopg
import structlog

from routing_rules.storage.store import NOTIFY_CHANNEL, RuleStore

log = structlog.get_logger(__name__)


async def watch_active_version(
    store: RuleStore, *, poll_interval_s: float = 2.0, max_backoff_s: float = 30.0
) -> AsyncGenerator[int | None, None]:
    """Yield the active version at once, then again every time a different one is activated.

    Runs until the consumer stops iterating. Database reads happen in a worker thread so the
    event loop never blocks.
    """
    if store.is_postgres:
        async for version in _listen(store, max_backoff_s):
            yield version
    else:
        async for version in _poll(store, poll_interval_s):
            yield version


async def _poll(store: RuleStore, interval_s: float) -> AsyncGenerator[int | None, None]:
    last: int | None = None
    first = True
    while True:
        version = await asyncio.to_thread(store.active_version)
        if first or version != last:
            first = False
            last = version
            yield version
        await asyncio.sleep(interval_s)


def _libpq_url(store: RuleStore) -> str:
    return store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _listen(store: RuleStore, max_backoff_s: float) -> AsyncGenerator[int | None, None]:
    last: int | None = None
    first = True
    backoff = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                _libpq_url(store), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                backoff = 0.5
                current = await asyncio.to_thread(store.active_version)
                if first or current != last:
                    first = False
                    last = current
                    yield current
                async for note in conn.notifies():
                    version = _payload_version(note.payload)
                    if version is None:
                        version = await asyncio.to_thread(store.active_version)
                    if version != last:
                        last = version
                        yield version
        except psycopg.OperationalError as exc:
            log.warning("rules.listen_lost", error=str(exc), retry_in_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)


def _payload_version(payload: str) -> int | None:
    try:
        version = json.loads(payload).get("version")
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else None
