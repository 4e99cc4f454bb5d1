"""A real Asterisk started on loopback ports from the rendered configuration, and SIPp."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from prometheus_client.parser import text_string_to_metric_families
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

T = TypeVar("T")


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
            rtp_start=free_port() & ~1,  # RTP takes the even ports
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


def write_dtmf_pcap(path: Path, digit: str, *, press: int = 0, ssrc: int = 0x1B3D5E11) -> Path:
    """A capture SIPp can replay (``play_pcap_audio``): one RFC 4733 telephone-event press.

    ``press`` numbers the presses of one call: each gets its own RTP timestamps and sequence
    numbers, since a receiver ignores an event that repeats the previous one's timestamp.
    SIPp rewrites the addresses and ports and keeps the RTP header as written here.
    """
    event = "0123456789*#".index(digit)
    seq0, ts0 = 1000 + press * 20, 80_000 + press * 16_000
    packets: list[bytes] = []
    for n in range(9):
        end = n >= 6  # six updates 20 ms apart, then the end of the event three times
        duration = 160 * min(n + 1, 6)
        header = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | 101, seq0 + n, ts0, ssrc)
        body = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        packets.append(header + body)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, rtp in enumerate(packets):
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            n,
            0,
            64,
            17,
            0,
            socket.inet_aton("127.0.0.1"),
            socket.inet_aton("127.0.0.1"),
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        usec = 20_000 * min(n, 6)
        out += struct.pack("<IIII", 1_700_000_000, usec, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path


Step = int | str
"""A step of a scripted party after the call is up: a pause in ms, or a DTMF digit to send."""


def scripted_scenario(
    template: str,
    steps: Sequence[Step],
    work: Path,
    name: str,
    *,
    media_port: int | None = None,
    replace: Mapping[str, str] | None = None,
) -> Path:
    """``scenarios/<template>`` with its ``<!-- steps -->`` marker replaced by ``steps``, when
    ``media_port`` is given that port announced in its SDP instead of SIPp's own, and each
    ``replace`` key replaced by its value."""
    text = (SCENARIOS / template).read_text(encoding="utf-8")
    if media_port is not None:
        text = text.replace("m=audio [media_port] ", f"m=audio {media_port} ")
    for marker, value in (replace or {}).items():
        if marker not in text:
            raise ValueError(f"{template} has no {marker}")
        text = text.replace(marker, value)
    parts: list[str] = []
    for index, step in enumerate(steps):
        if isinstance(step, int):
            parts.append(f'<pause milliseconds="{step}"/>')
        else:
            pcap = write_dtmf_pcap(work / f"{name}-dtmf-{index}.pcap", step, press=index)
            parts.append(f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
    if "<!-- steps -->" not in text:
        raise ValueError(f"{template} has no <!-- steps --> marker")
    scenario = work / f"{name}.xml"
    scenario.write_text(text.replace("<!-- steps -->", "\n  ".join(parts)), encoding="utf-8")
    return scenario


@dataclass
class SippParty:
    """One SIPp process playing one party of a call; ``messages`` traces its SIP messages."""

    process: subprocess.Popen[bytes]
    messages: Path
    output: Path

    def wait(self, timeout_s: float) -> int:
        """SIPp's exit status (0: every call of the scenario succeeded); kills it at the
        deadline and raises TimeoutExpired."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def trace(self) -> str:
        if not self.messages.exists():
            return ""
        return self.messages.read_text(encoding="utf-8", errors="replace")

    def requests(self, method: str) -> list[str]:
        """The request URIs of the ``method`` requests SIPp received or sent."""
        return [
            line.split()[1]
            for line in self.trace().splitlines()
            if line.startswith(f"{method} sip:")
        ]


def start_sipp(
    work: Path,
    name: str,
    scenario: Path,
    *,
    local_ip: str,
    local_port: int,
    remote: str | None = None,
    keys: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    calls: int = 1,
    timeout_s: int = 60,
) -> SippParty:
    """Start SIPp for ``calls`` calls of ``scenario`` (a UAC when ``remote`` is given, else a
    UAS)."""
    binary = sipp()
    assert binary is not None
    messages = work / f"{name}-messages.log"
    output = work / f"{name}-output.log"
    command = [binary] + ([remote] if remote else [])
    command += ["-sf", str(scenario), "-i", local_ip, "-p", str(local_port), "-m", str(calls)]
    command += ["-nostdin", "-trace_msg", "-message_file", str(messages)]
    command += ["-timeout", f"{timeout_s}s", "-timeout_error"]
    for key, value in (keys or {}).items():
        command += ["-key", key, value]
    command += list(extra)
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return SippParty(process, messages, output)


def start_contact_centre(
    node: AsteriskNode,
    work: Path,
    *,
    name: str = "centre",
    steps: Sequence[Step] = (),
    media_port: int | None = None,
    busy: str | None = None,
    timeout_s: int = 60,
) -> SippParty:
    """A contact centre on the trunk's address that answers one call.

    With ``steps`` (pauses and DTMF keys once the call is up) it plays
    ``contact_centre_keys.xml``, offers RFC 4733 events and waits for the hang-up; it
    announces ``media_port`` in its SDP when given (a test's own RTP receiver), else SIPp's.
    With ``busy`` (a dialled number) it takes two calls: that number answers 486 Busy Here,
    the other is answered as with ``steps``. With neither, it plays ``contact_centre.xml``.
    """
    calls = 1
    if busy is not None:
        scenario = scripted_scenario(
            "contact_centre_busy.xml",
            steps,
            work,
            name,
            media_port=media_port,
            replace={"BUSY_NUMBER": re.escape(busy)},
        )
        calls = 2
    elif steps or media_port is not None:
        scenario = scripted_scenario(
            "contact_centre_keys.xml", steps, work, name, media_port=media_port
        )
    else:
        scenario = SCENARIOS / "contact_centre.xml"
    return start_sipp(
        work,
        name,
        scenario,
        local_ip=CONTACT_CENTRE_IP,
        local_port=node.contact_centre_port,
        calls=calls,
        timeout_s=timeout_s,
    )


def start_carrier_call(
    node: AsteriskNode,
    work: Path,
    *,
    calling: str,
    service: str = "311",
    name: str = "caller",
    steps: Sequence[Step] = (),
    timeout_s: int = 60,
) -> SippParty:
    """The carrier delivers one call to ``service`` from ``calling``; once answered the caller
    plays ``steps`` (pauses and RFC 4733 keys) and then waits for Asterisk to hang up."""
    return start_sipp(
        work,
        name,
        scripted_scenario("carrier_keys.xml", steps, work, name),
        local_ip=CARRIER_IP,
        local_port=free_port(),
        remote=f"127.0.0.1:{node.sip_port}",
        keys={"caller": calling},
        extra=["-s", service],
        timeout_s=timeout_s,
    )


@dataclass(frozen=True)
class CallResult:
    caller_exit: int
    centre_exit: int
    centre_messages: str


def call_311(
    node: AsteriskNode, work: Path, *, calling: str, stay_ms: int, service: str = "311"
) -> CallResult:
    """A carrier call to ``service`` from ``calling``; a contact centre answers one call."""
    centre = start_contact_centre(node, work)
    try:
        caller = start_sipp(
            work,
            "caller",
            SCENARIOS / "carrier_call.xml",
            local_ip=CARRIER_IP,
            local_port=free_port(),
            remote=f"127.0.0.1:{node.sip_port}",
            keys={"caller": calling},
            extra=["-s", service, "-d", str(stay_ms)],
        )
        try:
            caller_exit = caller.wait(timeout_s=90)
        finally:
            caller.kill()
        centre_exit = centre.wait(timeout_s=30)
    finally:
        centre.kill()
    return CallResult(caller_exit, centre_exit, centre.trace())


@dataclass
class RtpReceiver:
    """A UDP socket on the contact centre's address that records the RTP sent to it."""

    address: str = CONTACT_CENTRE_IP
    packets: list[tuple[float, int, bytes]] = field(default_factory=list)
    """(wall-clock arrival time, payload type, payload) per packet."""

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.address, 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12 and data[0] >> 6 == 2:
                self.packets.append((time.time(), data[1] & 0x7F, data[12:]))

    def audio_before(self, moment: float) -> list[bytes]:
        """The G.711 µ-law payloads that arrived before ``moment`` (wall clock)."""
        return [payload for at, pt, payload in list(self.packets) if pt == 0 and at < moment]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def is_speech(payloads: Sequence[bytes]) -> bool:
    """Whether µ-law payloads carry more than silence (0xFF and 0x7F are zero)."""
    loud = sum(1 for payload in payloads for byte in payload if byte & 0x7F < 0x70)
    return loud > 400


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


def wait_until(condition: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``condition`` until it returns something true; AssertionError naming ``what`` at
    the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class ControllerProcess:
    """``ivr311 run`` as a subprocess connected to a node's ARI; its log is JSON lines."""

    process: subprocess.Popen[bytes]
    stdout: Path
    log: Path
    base_url: str = ""

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

    def log_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events

    def problems(self) -> list[dict[str, Any]]:
        """Log lines at warning level or above."""
        return [e for e in self.log_events() if e.get("level") in ("warning", "error", "critical")]

    def stop(self) -> None:
        """SIGTERM (the controller drains), then kill at the deadline."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_controller(
    node: AsteriskNode, work: Path, rules: Path, settings: Mapping[str, str] | None = None
) -> ControllerProcess:
    """Start ``ivr311 run`` on ``node``'s ARI with the rule file ``rules`` seeding a fresh
    store, and wait until it reports ready (ARI connected, rules loaded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env.update(
        {
            "IVR311_ARI_URL": f"http://127.0.0.1:{node.http_port}",
            "IVR311_ARI_USER": "ivr311",
            "IVR311_ARI_PASSWORD": ARI_PASSWORD,
            "IVR311_RULES": str(rules),
            "IVR311_DATABASE_URL": f"sqlite:///{work / 'rules.db'}",
            "IVR311_HTTP_LISTEN": "127.0.0.1:0",
            "IVR311_LOG_FORMAT": "json",
            "IVR311_LOG_LEVEL": "INFO",
            "IVR311_DRAIN_TIMEOUT_S": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(settings or {})
    stdout, log = work / "controller.out", work / "controller.log"
    with stdout.open("wb") as out, log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr311.cli", "run"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    controller = ControllerProcess(process, stdout, log)

    def listening() -> str | None:
        if process.poll() is not None:
            raise AssertionError(f"ivr311 run exited: {log.read_text(errors='replace')[-3000:]}")
        match = re.search(r"metrics (http://\S+)/metrics", stdout.read_text(errors="replace"))
        return match.group(1) if match else None

    def ready() -> bool:
        try:
            return bool(controller.get_json("/readyz").get("ready"))
        except (OSError, ValueError):
            return False

    try:
        controller.base_url = wait_until(listening, 60, "the controller's HTTP server")
        wait_until(ready, 30, "the controller to be ready")
    except BaseException:
        controller.stop()
        raise
    return controller
