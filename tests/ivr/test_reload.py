"""A new active rule version reaches new calls; calls in progress keep their snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ivr_testing import GREETING, LogLines, fast_settings, inside_number
from sqlalchemy.exc import OperationalError

from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo
from routing_rules.storage.store import RuleStore
from switchsim import FakeSwitch
from switchsim.simulation import simulated_controller


async def test_new_version_for_new_calls_only(tmp_path: Path) -> None:
    """SQLite: the controller polls the active version."""
    await _new_version_for_new_calls_only(f"sqlite:///{tmp_path / 'rules.db'}")


@pytest.mark.postgres
async def test_new_version_notified_by_postgres(postgres_url: str) -> None:
    """PostgreSQL: the controller hears of the new version through LISTEN/NOTIFY."""
    await _new_version_for_new_calls_only(postgres_url)


async def _new_version_for_new_calls_only(url: str) -> None:
    store = await asyncio.to_thread(RuleStore.open, url)
    metrics = Metrics()
    rules = RulesSource(store, metrics=metrics, seed="durham", poll_s=0.05)
    await rules.load()
    assert rules.current is not None and rules.current.version == 1
    watcher = asyncio.create_task(rules.watch())
    switch = FakeSwitch(playback_s=0.02, media_durations={GREETING: 60.0})
    try:
        async with simulated_controller(fast_settings(), rules, switch=switch) as (_, controller):
            number = inside_number(rules.current)
            first = switch.place_call("311", number)
            await switch.wait_for(lambda: bool(switch.record(first).plays))

            text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
            changed = text.replace("max_menu_options: 4", "max_menu_options: 3")
            geo = default_geo()
            await asyncio.to_thread(
                lambda: store.apply(
                    changed, author="test", comment="fewer options", base_version=1, geo=geo
                )
            )
            async with rules.changed:
                await asyncio.wait_for(
                    rules.changed.wait_for(
                        lambda: rules.current is not None and rules.current.version == 2
                    ),
                    10,
                )
            second = switch.place_call("311", number)
            await switch.wait_for(lambda: bool(switch.record(second).plays))
            versions = {c["call_id"]: c["rules_version"] for c in controller.live_calls()}
            assert versions == {first: 1, second: 2}
            assert metrics.registry.get_sample_value("ivr311_rules_active_version") == 2
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        store.close()


async def test_a_version_the_store_failed_to_give_is_loaded_once_it_answers(
    tmp_path: Path, logged: LogLines
) -> None:
    """The controller hears of version 2 but the store fails as it reads it (a server going
    away): it keeps version 1 for new calls meanwhile, and has version 2 once the store answers,
    without another activation."""
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    store = await asyncio.to_thread(RuleStore.open, url)
    rules = RulesSource(store, metrics=Metrics(), seed="durham", poll_s=0.05)
    await rules.load()
    read = store.load_snapshot
    failures = [OperationalError("SELECT", {}, ConnectionResetError("server went away"))]

    def flaky(geo: GeoLookup, version: int | None = None) -> RuleSnapshot | None:
        if failures:
            raise failures.pop()
        return read(geo, version)

    store.load_snapshot = flaky  # type: ignore[method-assign]
    watcher = asyncio.create_task(rules.watch())
    try:
        text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
        changed = text.replace("max_menu_options: 4", "max_menu_options: 3")
        admin = await asyncio.to_thread(RuleStore.open, url)
        await asyncio.to_thread(
            lambda: admin.apply(
                changed, author="t", comment="v2", base_version=1, geo=default_geo()
            )
        )
        admin.close()
        async with rules.changed:
            await asyncio.wait_for(
                rules.changed.wait_for(
                    lambda: rules.current is not None and rules.current.version == 2
                ),
                10,
            )
        assert not failures
        failed = [e for e in logged if e["event"] == "rules.reload_failed"]
        assert [(e["version"], e["log_level"]) for e in failed] == [(2, "warning")]
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        store.close()
