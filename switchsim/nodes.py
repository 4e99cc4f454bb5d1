"""Several nodes sharing one rule store: each an ``ivr311 run`` process on a simulated switch.

A multi-node deployment on loopback, for the fault tests and the benchmarks. Each node's switch
(`FakeAri`) runs in the calling process, so the caller places calls and inspects what happened;
each controller is a child process as in production (its own event loop, its own LISTEN
connection to the store), configured only through ``IVR311_*`` variables, logging JSON to a
file of its own (`ControllerNode.log_events`). What an operator sees of a node, its ``/readyz``
and its admin API, is what the caller reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from routing_rules.snapshot import DEMO_DIR
from switchsim.server import FakeAri
from switchsim.switch import FakeSwitch

START_TIMEOUT_S = 60.0
"""Longest wait for a controller to start and connect (imports, geodata, the store)."""
STOP_TIMEOUT_S = 15.0
POLL_S = 0.005
"""How often a condition on the nodes' HTTP answers is checked: the resolution of a timing."""
_BANNER = "readiness "


@dataclass
class ControllerNode:
    """One node: its simulated switch and its controller process."""

    name: str
    fake: FakeAri
    process: asyncio.subprocess.Process
    log_path: Path
    http: aiohttp.ClientSession
    token: str
    base_url: str = ""
    stdout: list[str] = field(default_factory=list)

    @property
    def switch(self) -> FakeSwitch:
        return self.fake.switch

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        """The status and body of the controller's ``/readyz``."""
        async with self.http.get(f"{self.base_url}/readyz") as resp:
            return resp.status, await resp.json()

    async def rules_version(self) -> int | None:
        """The rule version new calls on this node get (its ``/readyz``)."""
        _, body = await self.readyz()
        version = body.get("rules_version")
        return version if isinstance(version, int) else None

    async def metric(self, name: str) -> float | None:
        """The value of the unlabelled sample ``name`` on the controller's ``/metrics``."""
        async with self.http.get(f"{self.base_url}/metrics") as resp:
            text = await resp.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        return None

    async def api(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, Any]:
        """An admin API request (with the token); the status and the JSON body."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(
            method, f"{self.base_url}{path}", json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()

    async def apply(
        self, content: str, *, base_version: int | None, comment: str
    ) -> tuple[int, Any]:
        """``POST /api/rules``: store and activate ``content`` through this node."""
        return await self.api(
            "POST",
            "/api/rules",
            {
                "content": content,
                "author": "ops",
                "comment": comment,
                "base_version": base_version,
            },
        )

    async def ended_call_record(self, call_id: str, timeout_s: float) -> dict[str, Any]:
        """The decision record of ``call_id`` (``GET /api/calls/ID``) once the call has ended
        on the switch and its record is in; TimeoutError after ``timeout_s`` for each."""
        sim = self.switch
        await sim.wait_for(lambda: sim.record(call_id).destroyed, timeout_s)

        async def recorded() -> bool:
            _, body = await self.api("GET", f"/api/calls/{call_id}")
            return body.get("decision") is not None

        await wait_until(recorded, timeout_s, f"decision record of {call_id}")
        _, body = await self.api("GET", f"/api/calls/{call_id}")
        record: dict[str, Any] = body["decision"]
        return record

    def log_events(self) -> list[dict[str, Any]]:
        """Every line the controller logged so far, parsed (a line that is not JSON is kept
        as ``{"unparsed": line}``, so a traceback would show)."""
        events: list[dict[str, Any]] = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"unparsed": line})
        return events


def rules_calling(agents: str) -> str:
    """The Durham demo rules, open around the clock, its agents reached at ``agents``: a
    withheld caller goes to the agents, so the number a call dials shows the version it ran on,
    whatever the time of day."""
    demo = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    text = demo.replace("  schedule: durham-hours\n  agents:", "  schedule: always\n  agents:")
    text = text.replace(
        'dial: "+19055550101"\n      schedule: durham-hours',
        f'dial: "{agents}"\n      schedule: always',
    )
    if text.count("schedule: always") != demo.count("schedule: always") + 2:
        raise ValueError("the Durham demo changed: update rules_calling")
    return text


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str
) -> float:
    """Poll ``condition`` every `POLL_S` until it holds; returns the seconds it took.

    Raises TimeoutError naming ``what`` after ``timeout_s``.
    """
    started = time.perf_counter()
    deadline = started + timeout_s
    while not await condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:g} s")
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - started


def controller_environment(
    fake: FakeAri, database_url: str, token: str, extra: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a node's ``ivr311 run``: this process's, without its own IVR311_*
    settings, plus the node's switch, the shared store and the admin token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env.update(
        {
            "IVR311_ARI_URL": fake.url,
            "IVR311_ARI_USER": fake.user,
            "IVR311_ARI_PASSWORD": fake.password,
            "IVR311_DATABASE_URL": database_url,
            "IVR311_HTTP_LISTEN": "127.0.0.1:0",
            "IVR311_ADMIN_TOKEN": token,
            "IVR311_LOG_FORMAT": "json",
            "IVR311_DRAIN_TIMEOUT_S": "1",
        }
    )
    env.update(extra)
    return env


async def _read_banner(node: ControllerNode, banner_seen: asyncio.Event) -> None:
    """Keep the controller's stdout drained; note its HTTP address from the start banner."""
    stream = node.process.stdout
    assert stream is not None
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        node.stdout.append(line)
        if _BANNER in line and not node.base_url:
            url = line.split(_BANNER, 1)[1].split()[0].rstrip(",")
            node.base_url = url.removesuffix("/readyz")
            banner_seen.set()


async def _start_node(
    name: str,
    switch: FakeSwitch,
    database_url: str,
    workdir: Path,
    token: str,
    http: aiohttp.ClientSession,
    extra_env: Mapping[str, str],
    stack: contextlib.AsyncExitStack,
) -> ControllerNode:
    fake = FakeAri(user="ivr311", password=secrets.token_urlsafe(12), switch=switch)
    await stack.enter_async_context(fake)
    log_path = workdir / f"{name}.log"
    log_file = stack.enter_context(log_path.open("wb"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr311.cli",
        "run",
        stdout=asyncio.subprocess.PIPE,
        stderr=log_file,
        env=controller_environment(fake, database_url, token, extra_env),
    )
    node = ControllerNode(name, fake, process, log_path, http, token)
    stack.push_async_callback(_stop_process, process)
    banner_seen = asyncio.Event()
    reader = asyncio.create_task(_read_banner(node, banner_seen), name=f"{name}-stdout")
    stack.push_async_callback(_finish, reader)
    waits = [asyncio.create_task(process.wait()), asyncio.create_task(banner_seen.wait())]
    try:
        await asyncio.wait(waits, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    if not node.base_url:
        tail = log_path.read_text(errors="replace").splitlines()[-5:]
        raise RuntimeError(f"controller {name} did not start: {tail}")

    async def ready() -> bool:
        status, _ = await node.readyz()
        return status == 200

    await wait_until(ready, START_TIMEOUT_S, f"controller {name} ready")
    return node


async def _finish(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the controller drains), then SIGKILL if it has not ended in time."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@asynccontextmanager
async def controller_nodes(
    count: int,
    database_url: str,
    workdir: Path,
    *,
    switch: Callable[[], FakeSwitch],
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[list[ControllerNode]]:
    """``count`` ready nodes sharing the store at ``database_url`` (the first seeds it); every
    process is stopped when the block ends, whatever happened."""
    token = secrets.token_urlsafe(24)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        nodes = [
            await _start_node(
                f"node-{chr(ord('a') + i)}",
                switch(),
                database_url,
                workdir,
                token,
                http,
                extra_env or {},
                stack,
            )
            for i in range(count)
        ]
        yield nodes
