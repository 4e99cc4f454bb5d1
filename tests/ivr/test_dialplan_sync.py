"""With IVR311_DIALPLAN_FILE the controller rewrites the dialplan whenever a rule version becomes
active and has Asterisk reload it; a failure to write or reload never holds the rules back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ivr_testing import GREETING, TIMEOUT_S, fast_settings, inside_number

from ivr.ari import AriClient, AriError
from ivr.controller.dialplan_sync import DIALPLAN_MODULE, DialplanSync, DialplanSyncResult
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from ivr.settings import SettingsError, load_settings
from routing_rules.snapshot import DEMO_DIR, default_geo
from routing_rules.storage.store import RuleStore
from switchsim import FakeAri, FakeSwitch
from switchsim.simulation import simulated_controller

PICKERING = "+19055550110"
PICKERING_MOVED = "+19055550119"


@dataclass
class Node:
    store: RuleStore
    rules: RulesSource
    fake: FakeAri
    controller: Controller

    @property
    def switch(self) -> FakeSwitch:
        return self.fake.switch

    @property
    def sync(self) -> DialplanSync:
        assert self.controller.dialplan is not None
        return self.controller.dialplan

    async def synced(self, version: int) -> DialplanSyncResult:
        """Wait until the dialplan of ``version`` has been handled; its result."""
        sync = self.sync

        def handled() -> bool:
            return sync.last is not None and sync.last.version == version

        async with sync.changed:
            await asyncio.wait_for(sync.changed.wait_for(handled), TIMEOUT_S)
        assert sync.last is not None
        return sync.last

    async def apply_pickering_moved(self) -> None:
        """Store and activate version 2: the demo with Pickering's centre on a new number."""
        text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
        assert PICKERING in text
        changed = text.replace(PICKERING, PICKERING_MOVED)
        geo = default_geo()
        store = self.store
        await asyncio.to_thread(
            lambda: store.apply(
                changed, author="test", comment="Pickering moved", base_version=1, geo=geo
            )
        )

    def regenerations(self, result: str) -> float:
        value = self.controller.metrics.registry.get_sample_value(
            "ivr311_dialplan_regenerations_total", {"result": result}
        )
        return value or 0.0


@asynccontextmanager
async def node_with_store(tmp_path: Path, **settings: Any) -> AsyncIterator[Node]:
    """A controller on the simulated switch following a SQLite store seeded with the Durham
    demo (version 1), with the given settings."""
    store = await asyncio.to_thread(RuleStore.open, f"sqlite:///{tmp_path / 'rules.db'}")
    rules = RulesSource(store, metrics=Metrics(), seed="durham", poll_s=0.05)
    watcher: asyncio.Task[None] | None = None
    try:
        await rules.load()
        watcher = asyncio.create_task(rules.watch())
        switch = FakeSwitch(playback_s=0.02, media_durations={GREETING: 60.0})
        async with simulated_controller(fast_settings(**settings), rules, switch=switch) as (
            fake,
            controller,
        ):
            yield Node(store, rules, fake, controller)
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await asyncio.to_thread(store.close)


async def rules_version_of_a_new_call(node: Node) -> int:
    assert node.rules.current is not None
    call_id = node.switch.place_call("311", inside_number(node.rules.current))
    await node.switch.wait_for(lambda: bool(node.switch.record(call_id).plays), TIMEOUT_S)
    versions = {c["call_id"]: c["rules_version"] for c in node.controller.live_calls()}
    return int(versions[call_id])


async def test_the_dialplan_is_written_at_start_and_rewritten_for_each_new_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "asterisk" / "ivr311-dialplan.conf"
    async with node_with_store(tmp_path, dialplan_file=path) as node:
        assert await node.synced(1) == DialplanSyncResult(1, "ok")
        first = path.read_text(encoding="utf-8")
        assert "version 1" in first and f"PJSIP/{PICKERING}@contact-centres" in first
        await node.switch.wait_for(lambda: node.switch.module_reloads == [DIALPLAN_MODULE])

        await node.apply_pickering_moved()
        assert await node.synced(2) == DialplanSyncResult(2, "ok")
        second = path.read_text(encoding="utf-8")
        assert "version 2" in second
        assert f"PJSIP/{PICKERING_MOVED}@contact-centres" in second and PICKERING not in second
        assert node.switch.module_reloads == [DIALPLAN_MODULE, DIALPLAN_MODULE]

        reloads = [
            r
            for r in node.fake.requests
            if r.method == "PUT" and r.path.startswith("/ari/asterisk/modules/")
        ]
        assert [(r.path, r.authorization_header, r.status) for r in reloads] == [
            ("/ari/asterisk/modules/pbx_config", True, 204)
        ] * 2
        assert node.regenerations("ok") == 2
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


async def test_a_failed_reload_is_counted_and_new_calls_still_take_the_new_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ivr311-dialplan.conf"
    async with node_with_store(tmp_path, dialplan_file=path) as node:
        await node.synced(1)
        node.switch.loaded_modules.discard(DIALPLAN_MODULE)  # Asterisk refuses the reload

        await node.apply_pickering_moved()
        result = await node.synced(2)
        assert result.outcome == "reload_failed"
        assert result.error is not None and "404" in result.error
        assert "version 2" in path.read_text(encoding="utf-8")
        assert await rules_version_of_a_new_call(node) == 2
        assert node.regenerations("reload_failed") == 1
        assert node.controller.metrics.registry.get_sample_value("ivr311_rules_active_version") == 2


async def test_a_dialplan_that_cannot_be_written_is_counted_and_the_rules_still_apply(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    async with node_with_store(tmp_path, dialplan_file=blocker / "ivr311-dialplan.conf") as node:
        assert (await node.synced(1)).outcome == "write_failed"
        await node.apply_pickering_moved()
        assert (await node.synced(2)).outcome == "write_failed"
        assert await rules_version_of_a_new_call(node) == 2
        assert node.switch.module_reloads == []  # nothing new to reload
        assert node.regenerations("write_failed") == 2


async def test_without_the_setting_the_controller_leaves_the_dialplan_alone(
    tmp_path: Path,
) -> None:
    async with node_with_store(tmp_path) as node:
        assert node.controller.dialplan is None
        await node.apply_pickering_moved()
        async with node.rules.changed:
            await asyncio.wait_for(
                node.rules.changed.wait_for(
                    lambda: node.rules.current is not None and node.rules.current.version == 2
                ),
                TIMEOUT_S,
            )
        assert node.switch.module_reloads == []
        assert not [r for r in node.fake.requests if r.path.startswith("/ari/asterisk/modules/")]


async def test_reload_module_answers_404_for_a_module_not_loaded() -> None:
    async with FakeAri() as fake, AriClient(fake.url, fake.user, fake.password, "ivr311") as ari:
        await ari.reload_module("pbx_config")
        with pytest.raises(AriError) as raised:
            await ari.reload_module("app_nothing")
    assert raised.value.is_gone
    assert fake.switch.module_reloads == ["pbx_config"]


def test_dialplan_file_setting(tmp_path: Path) -> None:
    assert load_settings(environ={}).dialplan_file is None
    assert load_settings(environ={"IVR311_DIALPLAN_FILE": " "}).dialplan_file is None
    path = tmp_path / "ivr311-dialplan.conf"
    assert load_settings(environ={"IVR311_DIALPLAN_FILE": str(path)}).dialplan_file == path
    with pytest.raises(SettingsError, match=r"IVR311_DIALPLAN_FILE: .* is a directory"):
        load_settings(environ={"IVR311_DIALPLAN_FILE": str(tmp_path)})
