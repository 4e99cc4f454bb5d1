"""The node's presence at the SIP proxy, against a stand-in JSON-RPC server over real HTTP:
keepalives while ready, the key deleted when readiness ends or on withdrawal, and a proxy that
fails or is unreachable logged once per change, never taking the controller down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from structured_log import production_log

from dialplan.names import READY_NODES_TABLE
from ivr.controller.http import bound_port, start_server
from ivr.controller.proxy_presence import ProxyPresence
from ivr.settings import SettingsError, load_settings

NODE = "127.0.0.2:5060"


@dataclass
class FakeRpc:
    """Kamailio's ``/RPC`` as far as presence uses it; ``failing`` answers 500."""

    url: str = ""
    requests: list[tuple[str, list[Any]]] = field(default_factory=list)
    failing: bool = False
    keys: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((body["method"], body["params"]))
        self.changed.set()
        if self.failing:
            return web.Response(status=500, text="down")
        table, key = body["params"][:2]
        assert table == READY_NODES_TABLE
        if body["method"] == "htable.seti":
            self.keys.add(key)
            return web.json_response({"jsonrpc": "2.0", "result": "Ok.", "id": body["id"]})
        if key not in self.keys:
            error = {"code": 404, "message": "Key not found in htable."}
            return web.json_response({"jsonrpc": "2.0", "error": error, "id": body["id"]})
        self.keys.discard(key)
        return web.json_response({"jsonrpc": "2.0", "result": "Ok.", "id": body["id"]})

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for the requests that make ``condition`` true (bounded)."""

        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), 10)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.requests if name == method)


@pytest.fixture
async def rpc() -> AsyncIterator[FakeRpc]:
    fake = FakeRpc()
    app = web.Application()
    app.router.add_post("/RPC", fake.handle)
    runner = await start_server(app, "127.0.0.1", 0)
    fake.url = f"http://127.0.0.1:{bound_port(runner)}/RPC"
    try:
        yield fake
    finally:
        await runner.cleanup()


@dataclass
class Readiness:
    """The controller's readiness as presence sees it; counts how often it was asked."""

    ready: bool = True
    asked: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self) -> bool:
        self.asked += 1
        self.changed.set()
        return self.ready

    async def asked_again(self, times: int) -> None:
        target = self.asked + times

        async def wait() -> None:
            while self.asked < target:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), 10)


async def test_keepalives_while_ready_and_the_key_deleted_when_not(rpc: FakeRpc) -> None:
    readiness = Readiness()
    presence = ProxyPresence(rpc.url, NODE, readiness, interval_s=0.01)
    await presence.start()
    try:
        await rpc.until(lambda: rpc.count("htable.seti") >= 3)
        assert rpc.keys == {NODE}
        readiness.ready = False
        await rpc.until(lambda: not rpc.keys)
        await readiness.asked_again(5)
        assert rpc.count("htable.delete") == 1, "deleted once, not at every tick"
        readiness.ready = True
        await rpc.until(lambda: rpc.keys == {NODE})
    finally:
        await presence.close()
    assert not rpc.keys, "closing withdraws the node"


async def test_withdraw_deletes_the_key_and_ends_the_keepalives(rpc: FakeRpc) -> None:
    presence = ProxyPresence(rpc.url, NODE, lambda: True, interval_s=0.01)
    await presence.start()
    await rpc.until(lambda: rpc.keys == {NODE})
    await presence.withdraw()
    assert not rpc.keys
    assert rpc.requests[-1] == ("htable.delete", [READY_NODES_TABLE, NODE])
    sent = len(rpc.requests)
    await presence.close()
    assert len(rpc.requests) == sent, "no keepalive after the withdrawal"


async def test_a_failing_proxy_is_logged_once_and_its_recovery_once(rpc: FakeRpc) -> None:
    rpc.failing = True
    with production_log() as events:
        presence = ProxyPresence(rpc.url, NODE, lambda: True, interval_s=0.01)
        await presence.start()
        try:
            await rpc.until(lambda: rpc.count("htable.seti") >= 5)
            rpc.failing = False
            await rpc.until(lambda: rpc.keys == {NODE})
            await rpc.until(lambda: rpc.count("htable.seti") >= 10)
        finally:
            await presence.close()
    names = [event["event"] for event in events if event["event"].startswith("proxy_presence.")]
    assert names.count("proxy_presence.unreachable") == 1
    assert names.count("proxy_presence.reachable") == 1
    failure = next(e for e in events if e["event"] == "proxy_presence.unreachable")
    assert failure["node"] == NODE and failure["error_type"] == "ClientResponseError"


async def test_an_unreachable_proxy_never_takes_the_controller_down(rpc: FakeRpc) -> None:
    closed = rpc.url.replace(rpc.url.split(":")[2].split("/")[0], "1")
    readiness = Readiness()
    with production_log() as events:
        presence = ProxyPresence(closed, NODE, readiness, interval_s=0.01, timeout_s=0.2)
        await presence.start()
        try:
            await readiness.asked_again(20)
        finally:
            await presence.close()
    names = [event["event"] for event in events if event["event"].startswith("proxy_presence.")]
    assert names.count("proxy_presence.unreachable") == 1, "logged once, not every second"


def test_the_proxy_settings_go_together_and_the_node_is_spelled_as_kamailio_does() -> None:
    with pytest.raises(SettingsError, match="IVR311_PROXY_RPC_URL and IVR311_PROXY_NODE"):
        load_settings(environ={"IVR311_PROXY_RPC_URL": "http://127.0.0.1:5071/RPC"})
    with pytest.raises(SettingsError, match="IVR311_PROXY_NODE: "):
        load_settings(
            environ={"IVR311_PROXY_RPC_URL": "http://127.0.0.1:5071/RPC", "IVR311_PROXY_NODE": "x"}
        )
    settings = load_settings(
        environ={
            "IVR311_PROXY_RPC_URL": "http://127.0.0.1:5071/RPC",
            "IVR311_PROXY_NODE": "[0::1]:5060",
        }
    )
    assert settings.proxy_node == "[::1]:5060"
