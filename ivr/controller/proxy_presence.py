"""The node's presence at Kamailio: while the controller is ready, new calls prefer its node.

Every second while `readiness` says ready, the controller sets its node's key (the node's SIP
``ADDRESS:PORT`` as in Kamailio's dispatcher list) in Kamailio's ``ready_nodes`` hash table over
JSON-RPC (``htable.seti``). The table forgets a key a few seconds after its last refresh, so a
controller that dies, hangs or loses its network stops drawing calls to its node by itself;
one that stops being ready, or begins to drain, deletes its key at once (``htable.delete``).
Kamailio sends new calls to nodes with a key first, and to any node alive by OPTIONS when no
key is left, where the controller-free fallback dialplan answers (``kamailio-conf/``).

Kamailio being unreachable never harms the controller: each request is bounded by a timeout,
and a failure is logged once when it starts and once when it ends, not every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog

from dialplan.names import READY_NODES_TABLE
from ivr.logs import exception_fields

log = structlog.get_logger(__name__)

INTERVAL_S = 1.0
TIMEOUT_S = 0.5
_NOT_FOUND = 404
"""JSON-RPC error code of ``htable.delete`` for a key that is not there (already withdrawn)."""


class RpcError(Exception):
    """Kamailio answered a JSON-RPC request with an error."""

    def __init__(self, code: object, message: object) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code


class ProxyPresence:
    """Keeps ``node`` in Kamailio's ready nodes while ``ready()`` is true.

    `start` begins the keepalives; `withdraw` stops them and deletes the key (before a drain);
    `close` does that too and releases the HTTP session.
    """

    def __init__(
        self,
        rpc_url: str,
        node: str,
        ready: Callable[[], bool],
        *,
        interval_s: float = INTERVAL_S,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self._url = rpc_url
        self._node = node
        self._ready = ready
        self._interval_s = interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._announced = False
        self._failing: bool | None = None

    async def start(self) -> None:
        if self._task is not None:
            return
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._keepalive(), name="proxy-presence")
        log.info("proxy_presence.started", node=self._node, rpc_url=self._url)

    async def withdraw(self) -> None:
        """Stop the keepalives and delete the key now: Kamailio sends no new call here."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._delete()
        log.info("proxy_presence.withdrawn", node=self._node)

    async def close(self) -> None:
        await self.withdraw()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _keepalive(self) -> None:
        while True:
            if self._ready():
                await self._call_logged("htable.seti", READY_NODES_TABLE, self._node, 1)
                self._announced = True
            elif self._announced:
                await self._delete()
            await asyncio.sleep(self._interval_s)

    async def _delete(self) -> None:
        self._announced = False
        await self._call_logged("htable.delete", READY_NODES_TABLE, self._node)

    async def _call_logged(self, method: str, *params: Any) -> None:
        """``method`` over JSON-RPC; a failure is logged when it begins, a recovery once."""
        try:
            await self._call(method, *params)
        except RpcError as exc:
            if method == "htable.delete" and exc.code == _NOT_FOUND:
                self._set_failing(False)
                return
            self._set_failing(True, exc)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._set_failing(True, exc)
        else:
            self._set_failing(False)

    async def _call(self, method: str, *params: Any) -> Any:
        assert self._session is not None
        request = {
            "jsonrpc": "2.0",
            "method": method,
            "params": list(params),
            "id": next(self._ids),
        }
        async with self._session.post(self._url, json=request) as response:
            response.raise_for_status()
            answer = await response.json(content_type=None)
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON-RPC object")
        error = answer.get("error")
        if isinstance(error, dict):
            raise RpcError(error.get("code"), error.get("message"))
        return answer.get("result")

    def _set_failing(self, failing: bool, exc: BaseException | None = None) -> None:
        if failing == self._failing:
            return
        previous, self._failing = self._failing, failing
        if failing and exc is not None:
            log.warning(
                "proxy_presence.unreachable",
                node=self._node,
                rpc_url=self._url,
                **exception_fields(exc),
            )
        elif previous:
            log.info("proxy_presence.reachable", node=self._node, rpc_url=self._url)
