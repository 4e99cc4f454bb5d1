"""The admin API mounted on a real controller (simulated switch over loopback) the way
``ivr311 run`` mounts it: live calls, metrics for the alerts, and a change the controller picks
up."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from admin_testing import AUTH, TOKEN
from aiohttp.test_utils import TestClient, TestServer

from ivr.admin import extend_app
from ivr.controller.http import make_app
from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from ivr.settings import load_settings
from routing_rules.storage.store import RuleStore
from switchsim.simulation import simulated_controller


async def test_the_controller_serves_the_admin_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    settings = load_settings(
        environ={},
        admin_token=TOKEN,
        database_url=url,
        rules_poll_s=0.05,
        http_listen="127.0.0.1:0",
    )
    store = RuleStore.open(url)
    rules = RulesSource(store, metrics=Metrics(), seed="durham", poll_s=0.05)
    await rules.load()
    watcher = asyncio.create_task(rules.watch())
    try:
        async with asyncio.timeout(60), simulated_controller(settings, rules) as (fake, controller):
            app = make_app(controller, [extend_app])
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                assert (await (await client.get("/api/rules")).json())["active_version"] == 1

                call_id = fake.switch.place_call("311", "9056830000")
                await fake.switch.wait_for(lambda: call_id in controller.calls, 10)
                calls = await (await client.get("/api/calls")).json()
                live = next(c for c in calls["calls"] if c["call_id"] == call_id)
                assert "9056830000" not in str(live), "the full calling number is personal data"
                assert live["carried_by"] == "controller"

                metrics = await (await client.get("/metrics")).text()
                assert "ivr311_host_open " in metrics
                assert 'ivr311_emergency_override_active{schedule="durham-hours"} 0.0' in metrics

                response = await client.post(
                    "/api/override",
                    json={
                        "active": True,
                        "reason": "flood",
                        "expires": "2099-01-01T00:00:00+00:00",
                        "author": "ops",
                    },
                    headers=AUTH,
                )
                assert response.status == 201
                async with asyncio.timeout(10), rules.changed:
                    await rules.changed.wait_for(
                        lambda: rules.current is not None and rules.current.version == 2
                    )
                metrics = await (await client.get("/metrics")).text()
                assert 'ivr311_emergency_override_active{schedule="durham-hours"} 1.0' in metrics
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        store.close()
