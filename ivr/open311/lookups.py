"""The controller's status look-ups: one HTTP session for every call and server."""

from __future__ import annotations

import asyncio

import aiohttp

from ivr.open311.client import GeoReportClient, Lookup, api_key
from routing_rules.decision import StatusResult
from routing_rules.schema import Open311


class StatusLookups:
    """``await lookups(owner_id, service, request_id)``: a `Lookup` (see `CallEnvironment`).

    The API key is read at each look-up, so a rotated secret file or environment value is
    used without a restart. The session opens on first use and closes with the controller.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, owner_id: str, service: Open311, request_id: str) -> Lookup:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        client = GeoReportClient(self._session, service, api_key(service))
        return await client.status(request_id)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def look_up_status(service: Open311, request_id: str) -> StatusResult:
    """One look-up outside a controller (``ivr311 simulate --request``)."""

    async def ask() -> StatusResult:
        lookups = StatusLookups()
        try:
            return (await lookups("simulate", service, request_id)).result
        finally:
            await lookups.close()

    return asyncio.run(ask())
