"""Where a controller's rule snapshots come from, and how a new active version reaches it.

`RulesSource.current` is the snapshot a new call takes; a call keeps its own to the end. With a
store, `watch` follows the active version (PostgreSQL LISTEN/NOTIFY or SQLite polling) and
builds each new snapshot in a worker thread, so the event loop never stalls on validation or
geodata, then swaps it in with one assignment.

At start (`load`) nothing is skipped: unusable geodata, a seed rule set that cannot be read or
is invalid, or an active version that cannot be loaded raises `SettingsError` naming the
setting behind it, one line per problem; so does any other exception while loading (its type
and message on the line), so a broken file never ends the start in a traceback. Later reloads
log a failure and keep the current snapshot; while the store cannot be reached, calls go on
with the snapshot held, and the version activated meanwhile is loaded once it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError

from geo.errors import GeoDataError
from geo.sources import GEODATA_DIR_ENV
from ivr.metrics import Metrics
from ivr.settings import SettingsError, describe_problems, env_name
from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import RuleSnapshot, default_geo, read_rules
from routing_rules.storage.errors import ConflictError, StoreError, failure_reason
from routing_rules.storage.notify import RECONNECT_CAP_S, watch_active_version
from routing_rules.storage.store import RuleStore
from routing_rules.validation import RuleSetInvalid

log = structlog.get_logger(__name__)

RULES_ENV = env_name("rules")
DATABASE_URL_ENV = env_name("database_url")
_STORE_FAILURES = (StoreError, SQLAlchemyError, OSError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def startup_error(variable: str, exc: BaseException, what: str = "") -> SettingsError:
    """A start-up failure as the setting to fix and the problem, one line per problem; an
    exception of a kind the start-up does not expect is named by its type too."""
    prefix = f"{variable}: {what}" if what else f"{variable}: "
    if isinstance(exc, RuleSetInvalid):
        lines = [f"{prefix}{problem}" for problem in exc.report.errors]
    elif isinstance(exc, GeoDataError):
        lines = [f"{prefix}{problem}" for problem in exc.problems]
    elif isinstance(exc, _STORE_FAILURES):  # their message says it all
        lines = [f"{prefix}{_one_line(exc)}"]
    else:
        lines = [f"{prefix}{type(exc).__name__}: {_one_line(exc)}"]
    return SettingsError(describe_problems(lines, "cannot start"))


async def open_rule_store(database_url: str) -> RuleStore:
    """The store at ``database_url``, opened off the event loop; `SettingsError` naming
    `DATABASE_URL_ENV` when it cannot be."""
    try:
        return await asyncio.to_thread(RuleStore.open, database_url)
    except StoreError as exc:
        raise SettingsError(f"{DATABASE_URL_ENV}: {exc}") from exc
    except Exception as exc:
        raise startup_error(DATABASE_URL_ENV, exc) from exc


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
        """Load the active version, seeding an empty store with the ``seed`` rule set first.

        Raises `SettingsError` naming IVR311_GEODATA_DIR, IVR311_RULES or IVR311_DATABASE_URL.
        """
        if self.store is None:
            return
        store = self.store
        try:
            geo = await self._geodata()
        except Exception as exc:
            raise startup_error(GEODATA_DIR_ENV, exc, "the geodata cannot be used: ") from exc
        try:
            active = await asyncio.to_thread(store.active_version)
        except Exception as exc:
            raise startup_error(DATABASE_URL_ENV, exc) from exc
        self._reachable(True)
        if active is None:
            await self._seed(store, geo)
        try:
            snapshot = await asyncio.to_thread(store.load_snapshot, geo, None)
        except RuleSetInvalid as exc:
            what = f"{exc.source.removeprefix('store:')} does not validate against the geodata: "
            raise startup_error(DATABASE_URL_ENV, exc, what) from exc
        except Exception as exc:
            what = (
                "" if isinstance(exc, _STORE_FAILURES) else "the active version cannot be loaded: "
            )
            raise startup_error(DATABASE_URL_ENV, exc, what) from exc
        if snapshot is not None:
            await self._activate(snapshot)

    async def _seed(self, store: RuleStore, geo: GeoLookup) -> None:
        try:
            text = await asyncio.to_thread(read_rules, self.seed)
        except Exception as exc:
            raise startup_error(RULES_ENV, exc, "cannot read the rule set: ") from exc
        try:
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
        except RuleSetInvalid as exc:
            raise startup_error(RULES_ENV, exc, f"{self.seed} is invalid: ") from exc
        except ConflictError:
            log.info("rules.seeded_elsewhere")  # another controller seeded the store first
            return
        except _STORE_FAILURES as exc:
            raise startup_error(DATABASE_URL_ENV, exc) from exc
        except Exception as exc:  # whatever the file holds, the start ends with a clear line
            raise startup_error(RULES_ENV, exc, f"{self.seed} cannot be loaded: ") from exc
        log.info("rules.seeded", rules=self.seed)

    def _reachable(self, up: bool) -> None:
        self.metrics.rules_store_reachable.set(1 if up else 0)

    async def _reload(self, version: int | None) -> bool:
        """Load and activate ``version``. False when the store could not be read (the caller
        tries again); a version that cannot be used is logged and the current snapshot kept."""
        assert self.store is not None
        geo = await self._geodata()
        store = self.store
        try:
            snapshot = await asyncio.to_thread(store.load_snapshot, geo, version)
        except (SQLAlchemyError, OSError) as exc:
            self.metrics.rules_reloads.labels("failed").inc()
            self._reachable(False)
            log.warning("rules.reload_failed", version=version, error=failure_reason(exc))
            return False
        except Exception:
            self.metrics.rules_reloads.labels("failed").inc()
            log.exception("rules.reload_failed", version=version)
            return True
        if snapshot is not None:
            await self._activate(snapshot)
        return True

    async def _activate(self, snapshot: RuleSnapshot) -> None:
        previous = self.current.version if self.current is not None else None
        self._set(snapshot)
        self.metrics.rules_reloads.labels("ok").inc()
        log.info("rules.active", version=snapshot.version, previous=previous)
        async with self.changed:
            self.changed.notify_all()

    async def watch(self) -> None:
        """Follow the store's active version until cancelled.

        A version the store could not be read for is not lost: listening starts afresh, which
        reads the active version first, once the store answers again.
        """
        if self.store is None:
            return
        while True:
            async with contextlib.aclosing(
                watch_active_version(
                    self.store, poll_interval_s=self.poll_s, reachable=self._reachable
                )
            ) as versions:
                async for version in versions:
                    current = self.current.version if self.current is not None else None
                    if version is None or version == current:
                        continue
                    if not await self._reload(version):
                        break
            await asyncio.sleep(RECONNECT_CAP_S)
