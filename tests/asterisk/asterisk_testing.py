"""A real Asterisk started on loopback ports from the rendered configuration, and the rules
the tests give it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from local_processes import free_port
from pydantic import SecretStr

from dialplan.asterisk_conf import (
    DIALPLAN_FILE,
    AsteriskConfSettings,
    link_prompts,
    render_asterisk_conf,
    write_dialplan,
)
from dialplan.options import DialplanOptions
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text

CARRIER_IP = "127.0.0.1"
CONTACT_CENTRE_IP = "127.0.0.2"
ARI_PASSWORD = "asterisk-test-only"
CLARINGTON_CENTRE = "+19055550190"
AFTER_HOURS_LINE = "+19055550102"
ACCEPT_KEY = "1"
"""The key Durham's rules (``transfer.accept_key``) ask a contact centre to press after the
whisper to take the call."""


def _first_dir(candidates: list[Path]) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(", ".join(str(c) for c in candidates))


def installation_dirs(binary: str) -> tuple[Path, Path]:
    """The modules directory and the XML documentation directory of an installed Asterisk
    (IVR311_TEST_ASTERISK_MODULES / IVR311_TEST_ASTERISK_DOCS override the search)."""
    prefix = Path(binary).resolve().parent.parent
    modules = os.environ.get("IVR311_TEST_ASTERISK_MODULES")
    docs = os.environ.get("IVR311_TEST_ASTERISK_DOCS")
    module_dir = (
        Path(modules)
        if modules
        else _first_dir(
            [
                prefix / "lib" / "asterisk" / "modules",
                prefix / "lib64" / "asterisk" / "modules",
                Path("/usr/lib/asterisk/modules"),
                Path("/usr/lib/x86_64-linux-gnu/asterisk/modules"),
            ]
        )
    )
    doc_dir = (
        Path(docs)
        if docs
        else _first_dir(
            [
                prefix / "var" / "lib" / "asterisk" / "documentation",
                Path("/var/lib/asterisk/documentation"),
                Path("/usr/share/asterisk/documentation"),
            ]
        )
    )
    return module_dir, doc_dir


@dataclass
class AsteriskNode:
    """One Asterisk process with its own directories, control socket and ports."""

    binary: str
    root: Path
    sip_port: int
    http_port: int
    contact_centre_port: int
    system_name: str = ""
    """Prefixed to the node's channel ids (one per node when several run)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "asterisk.conf"

    @property
    def log(self) -> Path:
        return self.root / "log" / "messages.log"

    def render(self, snapshot: RuleSnapshot) -> None:
        module_dir, doc_dir = installation_dirs(self.binary)
        settings = AsteriskConfSettings(
            module_dir=module_dir,
            var_dir=self.root / "var",
            data_dir=self.root / "data",
            spool_dir=self.root / "spool",
            run_dir=self.root / "run",
            log_dir=self.root / "log",
            sbin_dir=Path(self.binary).resolve().parent,
            verbose=3,
            sip_bind="127.0.0.1",
            sip_port=self.sip_port,
            rtp_start=free_port() & ~1,  # RTP takes the even ports
            rtp_end=65000,
            http_port=self.http_port,
            carrier_address=CARRIER_IP,
            contact_centre_address=CONTACT_CENTRE_IP,
            contact_centre_port=self.contact_centre_port,
            system_name=self.system_name,
        )
        for sub in ("var", "spool", "run", "log", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        render_asterisk_conf(
            snapshot, settings, self.root / "etc", password=SecretStr(ARI_PASSWORD)
        )
        link_prompts(self.root / "data")
        docs = self.root / "data" / "documentation"
        if not docs.exists():
            docs.symlink_to(doc_dir, target_is_directory=True)

    def start(self) -> None:
        """Start in the foreground with a console and wait for its "Asterisk Ready." line."""
        self.process = subprocess.Popen(
            [self.binary, "-C", str(self.conf), "-f", "-n", "-c"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(ready,), daemon=True).start()
        if not ready.wait(timeout=60) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"asterisk did not boot: {self.errors()}")

    def _drain(self, ready: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if b"Asterisk Ready." in line:
                ready.set()
        ready.set()

    def cli(self, command: str) -> str:
        done = subprocess.run(
            [self.binary, "-C", str(self.conf), "-rx", command],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def load_rules(self, snapshot: RuleSnapshot) -> None:
        write_dialplan(snapshot, self.root / "etc" / DIALPLAN_FILE, DialplanOptions())
        assert "Dialplan reloaded" in self.cli("dialplan reload")

    def ari(self, method: str, path: str) -> Any:
        """One ARI request as the controller's user; the decoded JSON answer (None: empty)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/ari{path}", method=method
        )
        token = base64.b64encode(f"ivr311:{ARI_PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def errors(self) -> list[str]:
        return self.log_lines("ERROR")

    def log_lines(self, *levels: str, offset: int = 0) -> list[str]:
        """Lines of messages.log at the given levels (all lines when none), from ``offset``."""
        if not self.log.exists():
            return []
        text = self.log.read_text(encoding="utf-8", errors="replace")[offset:]
        return [
            line
            for line in text.splitlines()
            if not levels or any(f"] {level}[" in line for level in levels)
        ]

    def log_size(self) -> int:
        return len(self.log.read_text(encoding="utf-8", errors="replace"))

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut: no channel is hung up, no event is sent; the
        node can be started again with `start`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        subprocess.run(
            [self.binary, "-C", str(self.conf), "-rx", "core stop now"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def new_node(
    binary: str, root: Path, *, contact_centre_port: int | None = None, system_name: str = ""
) -> AsteriskNode:
    """A node in ``root`` on free loopback ports (the contact centres' port given or free)."""
    return AsteriskNode(
        binary=binary,
        root=root,
        sip_port=free_port(),
        http_port=free_port(),
        contact_centre_port=contact_centre_port or free_port(),
        system_name=system_name,
    )


def durham_rules_yaml(*, open_now: bool, now: datetime, clarington_centre: bool = True) -> str:
    """The Durham demo rules made independent of the clock: every schedule always open and
    every arrangement open-ended (``open_now``), or the host closed by an exceptional closure
    around ``now``. ``clarington_centre`` gives Clarington a contact centre of its own (the
    demo has its residents served by Service Durham's agents)."""
    data = yaml.safe_load((DEMO_DIR / "durham.yaml").read_text(encoding="utf-8"))
    if clarington_centre:
        for mun in data["municipalities"]:
            if mun["id"] == "clarington":
                mun["destinations"] = [
                    {
                        "id": "clarington-service",
                        "label": "Clarington service centre",
                        "dial": CLARINGTON_CENTRE,
                        "schedule": "durham-hours",
                        "fallback": ["message"],
                    }
                ]
    schedules = data["schedules"]
    if open_now:
        for name, hours in schedules.items():
            schedules[name] = {"timezone": hours["timezone"], "always_open": True}
        for arrangement in data.get("arrangements", []):
            if "effective_until" in arrangement:
                arrangement["effective_until"] = None
                arrangement["notice_days"] = None
    else:
        schedules["durham-hours"]["exceptions"] = [
            {
                "name": "closed for the test",
                "start": now - timedelta(days=1),
                "end": now + timedelta(days=1),
                "open": False,
            }
        ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def durham_for_test(
    *, open_now: bool, now: datetime, clarington_centre: bool = True
) -> RuleSnapshot:
    """`durham_rules_yaml` as a rule snapshot."""
    text = durham_rules_yaml(open_now=open_now, now=now, clarington_centre=clarington_centre)
    return snapshot_from_text(text, default_geo(), source="test:durham-asterisk")


def open_durham_rules(
    work: Path, *, transfer: Mapping[str, object] | None = None
) -> tuple[Path, RuleSnapshot]:
    """The Durham demo rules open around the clock (`durham_rules_yaml`, Clarington served
    by the agents), with ``transfer`` settings on top: written to ``work/durham-open.yaml``
    for a controller to seed its store with, and as a snapshot for a node's dialplan."""
    data = yaml.safe_load(
        durham_rules_yaml(open_now=True, now=datetime.now(UTC), clarington_centre=False)
    )
    data["transfer"].update(transfer or {})
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    rules = work / "durham-open.yaml"
    rules.write_text(text, encoding="utf-8")
    return rules, snapshot_from_text(text, default_geo(), source="test:durham-open")


BOWMANVILLE_CALLER = "9056230142"
"""905-623: Bowmanville, inside Clarington, whose residents Service Durham's agents serve."""
AJAX_PICKERING_CALLER = "9056830177"
"""905-683: Ajax-Pickering, shared by Ajax and Pickering: the caller hears a menu."""
DURHAM_AGENTS = "+19055550101"
"""Service Durham's agents, the first link of most transfers."""
PICKERING_CCC = "+19055550110"
"""Pickering's customer care centre."""
PICKERING_KEY = "2"
"""The key that picks Pickering in the Ajax-Pickering menu."""
