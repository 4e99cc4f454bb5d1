"""Keep Asterisk's generated dialplan in step with the controller's active rule version.

With ``IVR311_DIALPLAN_FILE`` set, every snapshot that becomes active — at start and on each
reload, so an admin-API apply, rollback or override and an ``ivr311 rules apply`` against the
shared store are all covered — is rendered into that file, and Asterisk is asked over ARI to
reload ``pbx_config`` (what ``dialplan reload`` runs). Asterisk swaps the contexts in one step:
calls in Stasis are not touched, and a call in the fallback finishes the application it is
running before it reads the new dialplan.

Rendering and writing run in a worker thread, through `dialplan.apply.regenerate_dialplan` (the
code ``ivr311 rules apply --dialplan`` uses). A failure is logged and counted in
``ivr311_dialplan_regenerations_total{result}`` and never holds the rules back: new calls take
the new snapshot before its dialplan is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from dialplan.apply import regenerate_dialplan
from dialplan.options import DialplanOptions
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)

DIALPLAN_MODULE = "pbx_config"
"""The module that reads ``extensions.conf``; reloading it is ``dialplan reload``."""

SyncOutcome = Literal["ok", "write_failed", "reload_failed"]


@dataclass(frozen=True)
class DialplanSyncResult:
    """What happened to the dialplan of one active version."""

    version: int | None
    outcome: SyncOutcome
    error: str | None = None


class DialplanSync:
    """Writes the dialplan of each active snapshot to ``path`` and reloads it in Asterisk.

    ``reload_module`` is `ivr.ari.AriClient.reload_module` of the controller's client.
    ``last`` is the latest result; ``changed`` is notified after each one (tests wait on it).
    """

    def __init__(
        self,
        path: Path,
        options: DialplanOptions,
        *,
        reload_module: Callable[[str], Awaitable[None]],
        metrics: Metrics,
    ) -> None:
        self.path = path
        self.options = options
        self._reload_module = reload_module
        self._metrics = metrics
        self.last: DialplanSyncResult | None = None
        self.changed = asyncio.Condition()

    async def apply(self, snapshot: RuleSnapshot) -> DialplanSyncResult:
        """Write ``snapshot``'s dialplan and reload it; failures are logged, counted, returned."""
        try:
            await asyncio.to_thread(
                regenerate_dialplan, snapshot, self.path, self.options, reload=False
            )
        except OSError as exc:
            log.error(
                "dialplan.write_failed",
                path=str(self.path),
                version=snapshot.version,
                error=str(exc),
            )
            result = DialplanSyncResult(snapshot.version, "write_failed", str(exc))
        except Exception as exc:  # a rendering bug must not stop the rules or this loop
            log.exception("dialplan.write_failed", path=str(self.path), version=snapshot.version)
            result = DialplanSyncResult(snapshot.version, "write_failed", str(exc))
        else:
            result = await self._reload(snapshot)
        self._metrics.dialplan_regenerations.labels(result.outcome).inc()
        self.last = result
        async with self.changed:
            self.changed.notify_all()
        return result

    async def _reload(self, snapshot: RuleSnapshot) -> DialplanSyncResult:
        try:
            await self._reload_module(DIALPLAN_MODULE)
        except Exception as exc:
            log.error(
                "dialplan.reload_failed",
                path=str(self.path),
                version=snapshot.version,
                error=str(exc),
                hint="Asterisk keeps its previous dialplan until `dialplan reload` or a restart",
            )
            return DialplanSyncResult(snapshot.version, "reload_failed", str(exc))
        log.info("dialplan.reloaded", version=snapshot.version, module=DIALPLAN_MODULE)
        return DialplanSyncResult(snapshot.version, "ok")

    async def follow(self, rules: RulesSource) -> None:
        """Apply the current snapshot, then every one that replaces it, until cancelled.

        Versions activated while a write is under way are skipped in favour of the newest."""
        applied: RuleSnapshot | None = None

        def replaced() -> bool:
            return rules.current is not None and rules.current is not applied

        while True:
            async with rules.changed:
                await rules.changed.wait_for(replaced)
                snapshot = rules.current
            assert snapshot is not None
            applied = snapshot
            await self.apply(snapshot)
