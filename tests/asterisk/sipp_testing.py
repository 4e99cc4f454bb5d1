"""SIPp playing the carrier and the contact centres, and an RTP receiver on the centre's address."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asterisk_testing import CARRIER_IP, CONTACT_CENTRE_IP, AsteriskNode
from local_processes import free_port

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


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
    ring_ms: int = 0,
    timeout_s: int = 60,
) -> SippParty:
    """A contact centre on the trunk's address that answers one call.

    With ``steps`` (pauses and DTMF keys once the call is up) it plays
    ``contact_centre_keys.xml``, offers RFC 4733 events and waits for the hang-up; it
    announces ``media_port`` in its SDP when given (a test's own RTP receiver), else SIPp's,
    and rings ``ring_ms`` before it answers. With ``busy`` (a dialled number) it takes two
    calls: that number answers 486 Busy Here, the other is answered as with ``steps``. With
    none of these, it plays ``contact_centre.xml``.
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
    elif steps or media_port is not None or ring_ms:
        ringing = f'<pause milliseconds="{ring_ms}"/>' if ring_ms else ""
        scenario = scripted_scenario(
            "contact_centre_keys.xml",
            steps,
            work,
            name,
            media_port=media_port,
            replace={"<!-- ringing -->": ringing},
        )
    else:
        scenario = SCENARIOS / "contact_centre.xml"
    return _start_on_trunk(node, work, name, scenario, calls=calls, timeout_s=timeout_s)


def start_contact_centre_hanging_up(
    node: AsteriskNode, work: Path, steps: Sequence[Step], *, name: str = "centre"
) -> SippParty:
    """A contact centre on the trunk's address that answers one call, plays ``steps`` (pauses
    and RFC 4733 keys) and hangs up (``contact_centre_hangs_up.xml``)."""
    scenario = scripted_scenario("contact_centre_hangs_up.xml", steps, work, name)
    return _start_on_trunk(node, work, name, scenario, calls=1, timeout_s=60)


def _start_on_trunk(
    node: AsteriskNode, work: Path, name: str, scenario: Path, *, calls: int, timeout_s: int
) -> SippParty:
    """SIPp playing ``scenario`` on the address and port of ``node``'s contact-centre trunk."""
    return start_sipp(
        work,
        name,
        scenario,
        local_ip=CONTACT_CENTRE_IP,
        local_port=node.contact_centre_port,
        calls=calls,
        timeout_s=timeout_s,
    )


def start_contact_centres(
    node: AsteriskNode,
    work: Path,
    *,
    calls: int,
    ringing: str | None = None,
    steps: Sequence[Step] = (),
    ring_ms: int = 0,
    name: str = "centres",
    timeout_s: int = 120,
) -> SippParty:
    """Contact centres on the trunk's address for ``calls`` calls at once: the number
    ``ringing`` (if any) rings and never answers; any other rings ``ring_ms``, answers, plays
    ``steps`` (pauses and RFC 4733 keys) and waits for the hang-up."""
    scenario = scripted_scenario(
        "contact_centre_ringing.xml",
        steps,
        work,
        name,
        replace={
            "RINGING_NUMBER": re.escape(ringing) if ringing else "no-number-rings",
            "<!-- ringing -->": f'<pause milliseconds="{ring_ms}"/>' if ring_ms else "",
        },
    )
    return _start_on_trunk(node, work, name, scenario, calls=calls, timeout_s=timeout_s)


def start_carrier_call(
    node: AsteriskNode,
    work: Path,
    *,
    calling: str,
    service: str = "311",
    name: str = "caller",
    steps: Sequence[Step] = (),
    calls: int = 1,
    rate_per_s: int = 10,
    timeout_s: int = 60,
) -> SippParty:
    """The carrier delivers ``calls`` calls (``rate_per_s`` a second, all kept up at once) to
    ``service`` from ``calling``; once answered each caller plays ``steps`` (pauses and RFC
    4733 keys) and then waits for Asterisk to hang up."""
    return start_sipp(
        work,
        name,
        scripted_scenario("carrier_keys.xml", steps, work, name),
        local_ip=CARRIER_IP,
        local_port=free_port(),
        remote=f"127.0.0.1:{node.sip_port}",
        keys={"caller": calling},
        extra=["-s", service, "-r", str(rate_per_s), "-l", str(calls)],
        calls=calls,
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
