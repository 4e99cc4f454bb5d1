"""Helpers for the admin API tests: a controller state to read from, a server in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ivr.admin import AdminConfig, AdminService, add_admin_routes
from ivr.controller.drain import DrainStatus
from ivr.controller.http import ControllerState, make_app
from ivr.metrics import Metrics

TOKEN = "correct-horse-battery-staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class StaticState:
    """A controller's view with fixed calls; the admin API reads it, and drains it."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    ari_connected: bool = True
    rules_loaded: bool = True
    draining: bool = False
    rules_version: int | None = 1

    def live_calls(self) -> list[Mapping[str, Any]]:
        return list(self.calls)

    def recent_decisions(self, limit: int = 50) -> list[Mapping[str, Any]]:
        return list(self.decisions)[:limit]

    def start_drain(self) -> None:
        self.draining = True

    def drain_status(self) -> DrainStatus:
        return DrainStatus(self.draining, len(self.calls), self.draining and not self.calls)


def admin_app(
    state: StaticState, service: AdminService, token: Callable[[], str | None]
) -> web.Application:
    """The controller's HTTP app with the admin API mounted the way the controller mounts it."""

    def extension(app: web.Application, _state: ControllerState) -> None:
        add_admin_routes(app, AdminConfig(service=service, token=token, drain=state))

    return make_app(state, [extension])


@contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on a loopback port from a thread of its own; yields the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="admin-server", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the admin test server did not start")

    async def stop() -> None:
        """Close the server, then end what its connections still do (aiohttp reads on for a
        while after answering a request whose body it did not read) and its worker threads."""
        await holder["runner"].cleanup()
        left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        await loop.shutdown_default_executor()

    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
