"""What a status look-up costs a call beyond the Open311 server's own time.

Sequential look-ups of a found request on the GeoReport v2 test server over loopback (real
HTTP, the controller's client and session): the client's elapsed time per look-up, the server
handler's own time, and their difference (connection, request, JSON parsing and validation).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from ivr.open311.lookups import StatusLookups
from routing_rules.decision import StatusResult
from routing_rules.schema import Open311
from switchsim.georeport import GeoReportServer

LOOKUPS = 300


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1], 3),
        "max": round(ordered[-1], 3),
    }


async def _measure() -> dict[str, object]:
    async with GeoReportServer() as server:
        service = Open311.model_validate({"base_url": server.base_url, "key": "*"})
        lookups = StatusLookups()
        elapsed: list[float] = []
        try:
            for _ in range(LOOKUPS):
                started = time.perf_counter()
                lookup = await lookups("bench", service, "5678")
                elapsed.append((time.perf_counter() - started) * 1000)
                assert lookup.result is StatusResult.FOUND
        finally:
            await lookups.close()
        own = server.handled_ms
    overhead = [total - handled for total, handled in zip(elapsed, own, strict=True)]
    return {
        "lookups": LOOKUPS,
        "lookup_ms": _percentiles(elapsed),
        "server_ms": _percentiles(own),
        "overhead_ms": _percentiles(overhead),
    }


def run() -> dict[str, object]:
    return {"status_check": asyncio.run(_measure())}
