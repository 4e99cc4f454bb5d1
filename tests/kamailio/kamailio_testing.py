"""A real Kamailio rendered by ``ivr311 kamailio-conf render``, SIPp nodes and SIPp carriers,
all on loopback addresses (127.0.0.x) and free ports, each process stopped by its owner.

Reusable beyond this folder: `KamailioProxy` fronts any SIP nodes (SIPp UAS processes here,
real Asterisk nodes elsewhere), `place_calls` plays a carrier through it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from local_processes import free_port, wait_until

from dialplan.kamailio_conf import KamailioConfSettings, render_kamailio_conf
from dialplan.names import READY_NODES_TABLE

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
PROXY_IP = "127.0.0.1"
CARRIER_IP = "127.0.0.9"
STRANGER_IP = "127.0.0.8"
NODE_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
SERVICE = "311"


def required_binary(name: str, package: str) -> str:
    """The path of ``name``; the test skips without it, or fails when ``CI=true``."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is missing (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class KamailioProxy:
    """One Kamailio process with its own rendered configuration in ``work``."""

    binary: str
    work: Path
    settings: KamailioConfSettings
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_nodes(
        cls, binary: str, work: Path, nodes: Sequence[str], carriers: Sequence[str] = (CARRIER_IP,)
    ) -> KamailioProxy:
        settings = KamailioConfSettings(
            listen=f"{PROXY_IP}:{free_port(PROXY_IP)}",
            rpc_listen=f"{PROXY_IP}:{free_port(PROXY_IP)}",
            nodes=list(nodes),
            carriers=list(carriers),
        )
        return cls(binary, work, settings)

    @property
    def sip(self) -> str:
        return self.settings.listen

    @property
    def rpc_url(self) -> str:
        return f"http://{self.settings.rpc_listen}/RPC"

    @property
    def log(self) -> Path:
        return self.work / "kamailio.log"

    def start(self) -> None:
        """Render, start in the foreground and wait until JSON-RPC answers."""
        config = render_kamailio_conf(self.settings, self.work).config
        command = [self.binary, "-f", str(config), "-DD", "-E", "-m", "32", "-M", "8"]
        command += ["-Y", str(self.work)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.work, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        wait_until(self._answers, 15, f"Kamailio answers JSON-RPC (log: {self.log})")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"Kamailio exited with {self.process.returncode}: {self.log_text()}")
        try:
            self.rpc("core.version")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def rpc(self, method: str, *params: Any) -> Any:
        """A JSON-RPC call; the JSON ``result`` (an ``error`` answer raises RuntimeError)."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1})
        request = urllib.request.Request(self.rpc_url, data=body.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=2) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result")

    def node_states(self) -> dict[str, str]:
        """``dispatcher.list``: each node's ADDRESS:PORT → its flags (``AP`` active, ``IP``
        inactive, both probed)."""
        states: dict[str, str] = {}
        for record in self.rpc("dispatcher.list").get("RECORDS", []):
            for target in record["SET"]["TARGETS"]:
                dest = target["DEST"]
                states[dest["URI"].removeprefix("sip:")] = dest["FLAGS"]
        return states

    def active_nodes(self) -> set[str]:
        return {node for node, flags in self.node_states().items() if flags.startswith("A")}

    def ready_nodes(self) -> set[str]:
        """The nodes whose controller's readiness key is set now."""
        nodes: set[str] = set()
        for slot in self.rpc("htable.dump", READY_NODES_TABLE):
            nodes.update(item["name"] for item in slot.get("slot", []))
        return nodes

    def set_ready(self, node: str) -> None:
        """What a ready controller's keepalive does once (the key expires unless refreshed)."""
        self.rpc("htable.seti", READY_NODES_TABLE, node, 1)

    def metrics(self) -> str:
        host = self.settings.rpc_listen
        with urllib.request.urlopen(f"http://{host}/metrics", timeout=2) as response:
            return str(response.read().decode())

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


@dataclass
class SippNode:
    """A SIPp UAS standing in for a node: answers OPTIONS probes and plays ``scenario`` for each
    INVITE (``node.xml`` answers, ``node_503.xml`` refuses, ``node_silent.xml`` never answers)."""

    binary: str
    work: Path
    address: str
    scenario: str = "node.xml"
    process: subprocess.Popen[bytes] | None = None
    runs: int = field(default=0)

    def _file(self, run: int, suffix: str) -> Path:
        host, _, port = self.address.rpartition(":")
        return self.work / f"node-{host}-{port}-{run}.{suffix}"

    def start(self, scenario: str | None = None) -> None:
        self.scenario = scenario or self.scenario
        self.runs += 1
        host, _, port = self.address.rpartition(":")
        command = [self.binary, "-sf", str(SCENARIOS / self.scenario), "-i", host, "-p", port]
        command += ["-nostdin", "-trace_msg", "-message_file", str(self._file(self.runs, "log"))]
        command += ["-timeout", "300s"]
        with self._file(self.runs, "out").open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.work, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    def invites(self) -> set[str]:
        """The Call-IDs of every INVITE this node received, in all its runs."""
        calls: set[str] = set()
        for run in range(1, self.runs + 1):
            path = self._file(run, "log")
            if path.exists():
                calls |= invite_call_ids(path.read_text(encoding="utf-8", errors="replace"))
        return calls

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


_CALL_ID = re.compile(r"^Call-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def invite_call_ids(trace: str) -> set[str]:
    """The Call-IDs of the INVITE requests in a SIPp ``-message_file`` trace."""
    calls: set[str] = set()
    for message in re.split(r"^-{10,}.*$", trace, flags=re.MULTILINE):
        # each message: "UDP message sent (N bytes):", a blank line, then the SIP message
        body = message.strip().partition("\n")[2].strip()
        if body.startswith("INVITE "):
            found = _CALL_ID.search(body)
            if found:
                calls.add(found.group(1))
    return calls


@dataclass
class Cluster:
    """Kamailio and two SIPp nodes, both alive by OPTIONS when a test begins."""

    proxy: KamailioProxy
    nodes: list[SippNode]
    sipp: str
    work: Path


@dataclass(frozen=True)
class CallsPlaced:
    exit_code: int
    """SIPp's exit status: 0 when every call went as the scenario says."""
    call_ids: frozenset[str]
    output: str


def place_calls(
    binary: str,
    work: Path,
    proxy: str,
    *,
    calls: int,
    source_ip: str = CARRIER_IP,
    scenario: str = "carrier.xml",
    rate: int = 20,
    timeout_s: int = 30,
) -> CallsPlaced:
    """``calls`` calls from ``source_ip`` to ``proxy`` (ADDRESS:PORT), ``rate`` a second, with
    ``carrier.xml`` (answered and hung up) or ``carrier_refused.xml`` (403 expected)."""
    port = free_port(source_ip)
    tag = f"carrier-{source_ip}-{port}"
    messages = work / f"{tag}.log"
    command = [binary, proxy, "-sf", str(SCENARIOS / scenario), "-i", source_ip, "-p", str(port)]
    command += ["-s", SERVICE, "-m", str(calls), "-r", str(rate), "-nostdin"]
    command += ["-trace_msg", "-message_file", str(messages)]
    command += ["-timeout", f"{timeout_s}s", "-timeout_error"]
    result = subprocess.run(
        command, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s + 10
    )
    trace = messages.read_text(encoding="utf-8", errors="replace") if messages.exists() else ""
    return CallsPlaced(
        result.returncode,
        frozenset(invite_call_ids(trace)),
        result.stdout.decode(errors="replace")[-3000:],
    )
