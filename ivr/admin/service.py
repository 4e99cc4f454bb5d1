"""What the admin API does, apart from HTTP: rule versions, overrides, simulation, coverage.

Everything here is synchronous (SQLAlchemy and the validator); the HTTP layer runs it in worker
threads. Versions are immutable, so validated snapshots are cached by version number.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geo.coverage import coverage_json
from ivr.admin.override import OverrideChange, set_override
from routing_rules.decision import StatusResult
from routing_rules.geoview import GeoLookup
from routing_rules.simulate import as_json, parse_at, parse_presses, simulate_call
from routing_rules.snapshot import RuleSnapshot, snapshot_from_text
from routing_rules.storage.errors import StoreError
from routing_rules.storage.store import (
    Activation,
    ApplyResult,
    RuleStore,
    StoredVersion,
    unified_diff,
)
from routing_rules.validation import validate_text


class NothingActive(StoreError):
    def __init__(self) -> None:
        super().__init__("no rule version is active yet: apply a rule set first")


def version_json(v: StoredVersion, active: int | None) -> dict[str, Any]:
    return {
        "version": v.version,
        "active": v.version == active,
        "author": v.author,
        "comment": v.comment,
        "created_at": v.created_at.isoformat(),
        "content_hash": v.content_hash,
        "base_version": v.base_version,
        "host_id": v.host_id,
    }


def activation_json(a: Activation) -> dict[str, Any]:
    return {
        "id": a.id,
        "version": a.version,
        "previous_version": a.previous_version,
        "action": a.action,
        "author": a.author,
        "comment": a.comment,
        "activated_at": a.activated_at.isoformat(),
    }


def override_json(snapshot: RuleSnapshot, schedule: str | None = None) -> dict[str, Any]:
    rules = snapshot.rules
    name = schedule or rules.host.schedule
    override = rules.schedules[name].emergency_override
    return {
        "schedule": name,
        "active": bool(override and override.active),
        "reason": override.reason if override else "",
        "expires": override.expires.isoformat() if override and override.expires else None,
        "destination": override.destination if override else None,
        "version": snapshot.version,
    }


@dataclass
class AdminService:
    """The rule store and geodata the admin API works on."""

    store: RuleStore
    geo: Callable[[], GeoLookup]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _snapshots: dict[int, RuleSnapshot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self, version: int | None = None) -> RuleSnapshot:
        """A stored version (default: the active one), validated once and cached. Versions
        are immutable, so a cached one is answered without reading the store."""
        if version is not None:
            with self._lock:
                known = self._snapshots.get(version)
            if known is not None:
                return known
        stored = self.store.get(version) if version is not None else self.store.active()
        if stored is None:
            raise NothingActive()
        with self._lock:
            cached = self._snapshots.get(stored.version)
        if cached is not None:
            return cached
        snapshot = snapshot_from_text(
            stored.content,
            self.geo(),
            source=f"store:version {stored.version}",
            version=stored.version,
        )
        with self._lock:
            self._snapshots[stored.version] = snapshot
        return snapshot

    def rules(self) -> dict[str, Any]:
        active = self.store.active_version()
        return {
            "active_version": active,
            "versions": [version_json(v, active) for v in reversed(self.store.versions())],
            "activations": [activation_json(a) for a in reversed(self.store.activations())],
        }

    def version(self, version: int) -> dict[str, Any]:
        stored = self.store.get(version)
        return {
            **version_json(stored, self.store.active_version()),
            "content": stored.content,
        }

    def diff(self, old: int, new: int | None) -> dict[str, Any]:
        if new is None:
            new = self.store.active_version()
            if new is None:
                raise NothingActive()
        old_text, new_text = self.store.get(old).content, self.store.get(new).content
        return {
            "old": old,
            "new": new,
            "diff": unified_diff(old_text, new_text, f"version {old}", f"version {new}"),
        }

    def validate(self, content: str) -> dict[str, Any]:
        """The same report as ``ivr311 rules validate --json``."""
        report = validate_text(content, self.geo())
        return {
            "ok": report.ok,
            "errors": [{"path": p.path, "message": p.message} for p in report.errors],
            "warnings": [{"path": p.path, "message": p.message} for p in report.warnings],
        }

    def override(self, schedule: str | None = None) -> dict[str, Any]:
        return override_json(self.snapshot(), schedule)

    # -- changing ---------------------------------------------------------------------------

    def apply(
        self, content: str, *, author: str, comment: str, base_version: int | None
    ) -> ApplyResult:
        return self.store.apply(
            content, author=author, comment=comment, base_version=base_version, geo=self.geo()
        )

    def activate(
        self, version: int, *, author: str, comment: str, base_version: int | None
    ) -> Activation:
        return self.store.rollback(
            version, author=author, comment=comment, geo=self.geo(), base_version=base_version
        )

    def set_override(
        self,
        change: OverrideChange,
        *,
        schedule: str | None,
        author: str,
        base_version: int | None,
    ) -> tuple[ApplyResult, dict[str, Any]]:
        """Store the active rules with the override changed as a new version (see override.py).

        Raises ``KeyError`` for an unknown schedule; a concurrent change raises ConflictError.
        """
        active = self.store.active()
        if active is None:
            raise NothingActive()
        name = schedule or self.snapshot(active.version).rules.host.schedule
        text = set_override(active.content, name, change)
        verb = "on" if change.active else "off"
        until = f" until {change.expires.isoformat()}" if change.expires else ""
        result = self.store.apply(
            text,
            author=author,
            comment=f"emergency override {verb} ({name}){until}: {change.reason}",
            base_version=base_version if base_version is not None else active.version,
            geo=self.geo(),
        )
        return result, override_json(self.snapshot(result.version), name)

    # -- simulation and coverage ------------------------------------------------------------

    def simulate(
        self,
        *,
        calling: str | None,
        dialled: str,
        at: str | None,
        press: list[str],
        greeting_key: str | None,
        location: tuple[float, float] | None,
        language: str,
        version: int | None,
        status: StatusResult | None = None,
    ) -> dict[str, Any]:
        """The same JSON as ``ivr311 simulate --store --json``; ``at`` errors raise ValueError."""
        snapshot = self.snapshot(version)
        sim = simulate_call(
            snapshot,
            calling=calling,
            at=parse_at(at, snapshot),
            dialled=dialled,
            location=location,
            language=language,
            greeting_key=greeting_key,
            presses=parse_presses(press),
            status=status,
        )
        return as_json(sim, snapshot)

    def locate(self, lat: float, lon: float, at: str | None) -> dict[str, Any]:
        """Which municipality is at a point, and where a caller there would be routed."""
        snapshot = self.snapshot()
        municipality = snapshot.geo.locate(lat, lon)
        known = snapshot.geo.municipalities.get(municipality) if municipality else None
        route = self.simulate(
            calling=None,
            dialled="311",
            at=at,
            press=[],
            greeting_key=None,
            location=(lat, lon),
            language="en",
            version=snapshot.version,
        )
        return {
            "lat": lat,
            "lon": lon,
            "municipality": municipality,
            "name": known.name if known else None,
            "member": municipality in snapshot.municipalities if municipality else False,
            "route": route,
        }

    def coverage(self, include_all: bool = False) -> dict[str, Any]:
        """The exchange table of the active rule set, as ``ivr311 geo coverage --format json``
        prints it (``include_all``: every known exchange, not just the rule set's)."""
        snapshot = self.snapshot()
        exchanges = snapshot.geo.exchanges
        wanted = exchanges.keys() if include_all else set(snapshot.rules.exchanges)
        table: dict[str, Any] = json.loads(
            coverage_json(row for key, row in exchanges.items() if key in wanted)
        )
        return {"version": snapshot.version, "host": snapshot.rules.host.id, **table}
