"""``ivr311 run`` as a subprocess on a real Asterisk's ARI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asterisk_testing import ARI_PASSWORD, AsteriskNode, open_durham_rules
from local_processes import wait_until
from prometheus_client.parser import text_string_to_metric_families
from sipp_testing import SippParty
from structured_log import log_lines


@dataclass
class ControllerProcess:
    """``ivr311 run`` as a subprocess connected to a node's ARI; its log is JSON lines.

    It keeps what it was started with, so `restart` starts the same controller again (after
    `kill`, say); the log goes on in the same file across restarts.
    """

    env: dict[str, str]
    work: Path
    name: str = "controller"
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""

    @property
    def stdout(self) -> Path:
        return self.work / f"{self.name}.out"

    @property
    def log(self) -> Path:
        return self.work / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            body: bytes = response.read()
            return body

    def get_json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of ``/metrics`` by (name, labels)."""
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(self.get("/metrics").decode()):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return samples

    def live_calls(self) -> list[dict[str, Any]]:
        """The calls the controller holds in progress (``/api/calls``)."""
        calls: list[dict[str, Any]] = self.get_json("/api/calls")["calls"]
        return calls

    def log_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        for line in log_lines(text):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events

    def problems(self) -> list[dict[str, Any]]:
        """Log lines at warning level or above."""
        return [e for e in self.log_events() if e.get("level") in ("warning", "error", "critical")]

    def launch(self, settings: Mapping[str, str] | None = None) -> None:
        """Start the process (with ``settings`` on top of the original ones) and wait until it
        reports ready (ARI connected, rules loaded)."""
        env = {**self.env, **(settings or {})}
        first = self.process is None
        with self.stdout.open("wb") as out, self.log.open("wb" if first else "ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ivr311.cli", "run"],
                cwd=self.work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        process = self.process

        def listening() -> str | None:
            if process.poll() is not None:
                raise AssertionError(
                    f"ivr311 run exited: {self.log.read_text(errors='replace')[-3000:]}"
                )
            match = re.search(
                r"metrics (http://\S+)/metrics", self.stdout.read_text(errors="replace")
            )
            return match.group(1) if match else None

        try:
            self.base_url = wait_until(listening, 60, f"the HTTP server of {self.name}")
            wait_until(self.ready, 30, f"{self.name} to be ready")
        except BaseException:
            self.stop()
            raise

    def ready(self) -> bool:
        try:
            return bool(self.get_json("/readyz").get("ready"))
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL: no drain, no hand-back."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, settings: Mapping[str, str] | None = None) -> None:
        """Stop the process if it still runs, and start it again (with ``settings`` on top)."""
        self.stop()
        self.launch(settings)

    def stop(self) -> None:
        """SIGTERM (the controller drains), then kill at the deadline."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_controller(
    node: AsteriskNode,
    work: Path,
    rules: Path,
    settings: Mapping[str, str] | None = None,
    *,
    name: str = "controller",
    ari_url: str | None = None,
) -> ControllerProcess:
    """Start ``ivr311 run`` on ``node``'s ARI (or ``ari_url``, a proxy in front of it) with the
    rule file ``rules`` seeding the store (by default a fresh SQLite file in ``work``), logging
    to ``work/NAME.log``, and wait until it reports ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env.update(
        {
            "IVR311_ARI_URL": ari_url or f"http://127.0.0.1:{node.http_port}",
            "IVR311_ARI_USER": "ivr311",
            "IVR311_ARI_PASSWORD": ARI_PASSWORD,
            "IVR311_RULES": str(rules),
            "IVR311_DATABASE_URL": f"sqlite:///{work / 'rules.db'}",
            "IVR311_HTTP_LISTEN": "127.0.0.1:0",
            "IVR311_LOG_FORMAT": "json",
            "IVR311_LOG_LEVEL": "INFO",
            "IVR311_DRAIN_TIMEOUT_S": "2",
            # the transfer tests follow each step over ARI; test_asterisk_handover asks for
            # transfers handed to the dialplan
            "IVR311_TRANSFERS": "application",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(settings or {})
    controller = ControllerProcess(env, work, name)
    controller.launch()
    return controller


@contextlib.contextmanager
def durham_controller(
    node: AsteriskNode,
    work: Path,
    settings: Mapping[str, str],
    *,
    transfer: Mapping[str, object] | None = None,
    ari_url: str | None = None,
) -> Iterator[ControllerProcess]:
    """`start_controller` on the Durham rules open around the clock (`open_durham_rules` with
    ``transfer``), the same rules loaded into ``node``'s dialplan; stopped at the end."""
    rules, snapshot = open_durham_rules(work, transfer=transfer)
    node.load_rules(snapshot)
    process = start_controller(node, work, rules, settings, ari_url=ari_url)
    try:
        yield process
    finally:
        process.stop()


def metric(controller: ControllerProcess, name: str, **labels: str) -> float:
    """One sample of the controller's metrics (0 when it has not been counted yet)."""
    return controller.metrics().get((name, frozenset(labels.items())), 0.0)


def live_call(controller: ControllerProcess) -> dict[str, Any] | None:
    """The one call in progress, if exactly one is."""
    calls = controller.live_calls()
    return calls[0] if len(calls) == 1 else None


def record_of(controller: ControllerProcess, call_id: str) -> dict[str, Any] | None:
    """The decision record of a call that ended, among the recent ones."""
    recent: list[dict[str, Any]] = controller.get_json("/api/calls?limit=50")["recent"]
    return next((r for r in recent if r["call_id"] == call_id), None)


def hang_up_and_collect(
    node: AsteriskNode,
    controller: ControllerProcess,
    caller: SippParty,
    centre: SippParty,
    call_id: str,
) -> dict[str, Any]:
    """Hang the caller up as a caller putting the phone down; both parties end cleanly; the
    call's decision record."""
    node.ari("DELETE", f"/channels/{call_id}?reason=normal")
    assert caller.wait(timeout_s=20) == 0
    assert centre.wait(timeout_s=20) == 0
    return wait_until(lambda: record_of(controller, call_id), 20, "the call's decision record")
