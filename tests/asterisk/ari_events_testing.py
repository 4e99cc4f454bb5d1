"""Asterisk's own ARI events, as an application subscribed to every channel sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from asterisk_testing import ARI_PASSWORD, AsteriskNode

from ivr.ari.client import basic_auth_header

OBSERVER_APP = "ivr311-test-observer"


class AsteriskEvents:
    """Every ARI event of an application subscribed to all channels, with waiting."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            async with self.changed:
                self.events.append(json.loads(message.data))
                self.changed.notify_all()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: any(match(e) for e in self.events)), timeout_s
            )
            return next(e for e in self.events if match(e))


@asynccontextmanager
async def asterisk_events(
    node: AsteriskNode, app: str = OBSERVER_APP
) -> AsyncIterator[AsteriskEvents]:
    """The events of ``app`` (a Stasis() of that name succeeds while it is open)."""
    observed = AsteriskEvents()
    headers = {"Authorization": basic_auth_header("ivr311", ARI_PASSWORD)}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(
            f"ws://127.0.0.1:{node.http_port}/ari/events",
            params={"app": app, "subscribeAll": "true"},
        ) as ws,
    ):
        reader = asyncio.create_task(observed.read(ws))
        try:
            yield observed
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
