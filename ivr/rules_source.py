"""Where a controller's rule snapshots come from, and how a new active version reaches it.

`RulesSource.current` is the snapshot a new call takes; a call keeps its own to the end. With a
store, `watch` follows the active version (PostgreSQL LISTEN/NOTIFY or SQLite polling) and
builds each new snapshot in a worker thread, so the event loop never stalls on validation or
geodata, then swaps it in with one assignment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from ivr.metrics import Metrics
from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import RuleSnapshot, default_geo, rules_path
from routing_rules.storage.notify import watch_active_version
from routing_rules.storage.store import RuleStore

log = structlog.get_logger(__name__)


class RulesSource:
    """The active rule snapshot of a running controller."""

    def __init__(
        self,
        store: RuleStore | None,
        *,
        metrics: Metrics,
        seed: str = "durham",
        poll_s: float = 2.0,
        geo_loader: Callable[[], GeoLookup] = default_geo,
        snapshot: RuleSnapshot | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.seed = seed
        self.poll_s = poll_s
        self._geo_loader = geo_loader
        self._geo: GeoLookup | None = None
        self.current: RuleSnapshot | None = None
        self.changed = asyncio.Condition()
        if snapshot is not None:
            self._set(snapshot)

    @classmethod
    def fixed(cls, snapshot: RuleSnapshot, metrics: Metrics) -> RulesSource:
        """A source that always gives ``snapshot`` (no store, no reload)."""
        return cls(None, metrics=metrics, snapshot=snapshot)

    @property
    def loaded(self) -> bool:
        return self.current is not None

    def _set(self, snapshot: RuleSnapshot) -> None:
        self.current = snapshot
        self.metrics.rules_version.set(snapshot.version or 0)

    async def _geodata(self) -> GeoLookup:
        if self._geo is None:
            self._geo = await asyncio.to_thread(self._geo_loader)
        return self._geo

    async def load(self) -> None:
        """Load the active version, seeding an empty store with the ``seed`` rule set first."""
        if self.store is None:
            return
        geo = await self._geodata()
        store = self.store
        if await asyncio.to_thread(store.active_version) is None:
            path = rules_path(self.seed)
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            await asyncio.to_thread(
                lambda: store.apply(
                    text,
                    author="ivr311 run",
                    comment=f"seeded from {self.seed}",
                    base_version=None,
                    geo=geo,
                    check_base=False,
                )
            )
            log.info("rules.seeded", rules=self.seed)
        await self._reload(None)

    async def _reload(self, version: int | None) -> None:
        assert self.store is not None
        geo = await self._geodata()
        store = self.store
        try:
            snapshot = await asyncio.to_thread(store.load_snapshot, geo, version)
        except Exception:
            self.metrics.rules_reloads.labels("failed").inc()
            log.exception("rules.reload_failed", version=version)
            return
        if snapshot is None:
            return
        previous = self.current.version if self.current is not None else None
        self._set(snapshot)
        self.metrics.rules_reloads.labels("ok").inc()
        log.info("rules.active", version=snapshot.version, previous=previous)
        async with self.changed:
            self.changed.notify_all()

    async def watch(self) -> None:
        """Follow the store's active version until cancelled."""
        if self.store is None:
            return
        async for version in watch_active_version(self.store, poll_interval_s=self.poll_s):
            current = self.current.version if self.current is not None else None
            if version is not None and version != current:
                await self._reload(version)
