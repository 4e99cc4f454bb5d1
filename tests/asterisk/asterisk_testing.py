"""A real Asterisk started on loopback ports from the rendered configuration, and SIPp."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import SecretStr

from dialplan.asterisk_conf import (
    DIALPLAN_FILE,
    AsteriskConfSettings,
    link_prompts,
    render_asterisk_conf,
    write_dialplan,
)
from dialplan.render import DialplanOptions
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CARRIER_IP = "127.0.0.1"
CONTACT_CENTRE_IP = "127.0.0.2"
ARI_PASSWORD = "asterisk-test-only"
CLARINGTON_CENTRE = "+19055550190"
AFTER_HOURS_LINE = "+19055550102"


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (the SIP transports use both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


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
            rtp_start=free_port(),
            rtp_end=65000,
            http_port=self.http_port,
            carrier_address=CARRIER_IP,
            contact_centre_address=CONTACT_CENTRE_IP,
            contact_centre_port=self.contact_centre_port,
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

    def errors(self) -> list[str]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if "] ERROR[" in line]

    def stop(self) -> None:
        if self.process is None:
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


def sipp() -> str | None:
    return shutil.which("sipp")


@dataclass(frozen=True)
class CallResult:
    caller_exit: int
    centre_exit: int
    centre_messages: str


def call_311(
    node: AsteriskNode, work: Path, *, calling: str, stay_ms: int, service: str = "311"
) -> CallResult:
    """A carrier call to ``service`` from ``calling``; a contact centre answers one call."""
    binary = sipp()
    assert binary is not None
    messages = work / "centre-messages.log"
    centre = subprocess.Popen(
        [
            binary,
            "-sf",
            str(SCENARIOS / "contact_centre.xml"),
            "-i",
            CONTACT_CENTRE_IP,
            "-p",
            str(node.contact_centre_port),
            "-m",
            "1",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(messages),
            "-timeout",
            "60s",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        caller = subprocess.run(
            [
                binary,
                f"127.0.0.1:{node.sip_port}",
                "-sf",
                str(SCENARIOS / "carrier_call.xml"),
                "-s",
                service,
                "-key",
                "caller",
                calling,
                "-i",
                CARRIER_IP,
                "-p",
                str(free_port()),
                "-m",
                "1",
                "-d",
                str(stay_ms),
                "-nostdin",
                "-timeout",
                "60s",
            ],
            cwd=work,
            capture_output=True,
            timeout=90,
            check=False,
        )
        centre_exit = centre.wait(timeout=30)
    finally:
        if centre.poll() is None:
            centre.kill()
            centre.wait(timeout=10)
    text = messages.read_text(encoding="utf-8", errors="replace") if messages.exists() else ""
    return CallResult(caller.returncode, centre_exit, text)


def durham_for_test(*, open_now: bool, now: datetime) -> RuleSnapshot:
    """The Durham demo rules with a contact centre for Clarington, and the host's hours made
    open (24/7) or closed (an exceptional closure around ``now``) so the clock does not matter."""
    data = yaml.safe_load((DEMO_DIR / "durham.yaml").read_text(encoding="utf-8"))
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
    hours = data["schedules"]["durham-hours"]
    if open_now:
        data["schedules"]["durham-hours"] = {"timezone": hours["timezone"], "always_open": True}
    else:
        hours["exceptions"] = [
            {
                "name": "closed for the test",
                "start": now - timedelta(days=1),
                "end": now + timedelta(days=1),
                "open": False,
            }
        ]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return snapshot_from_text(text, default_geo(), source="test:durham-asterisk")
