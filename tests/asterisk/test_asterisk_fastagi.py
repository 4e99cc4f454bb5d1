"""A real Asterisk runs the README's FreePBX custom destination, whose ``AGI(agi://...)`` asks
``ivr311 fastagi`` (or ``ivr311 run`` with ``IVR311_FASTAGI_LISTEN``) where to send the call:
a Bowmanville caller reaches Clarington's centre (a SIPp contact centre on the trunk)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asterisk_testing import (
    BOWMANVILLE_CALLER,
    CLARINGTON_CENTRE,
    AsteriskNode,
    durham_for_test,
    durham_rules_yaml,
)
from controller_testing import start_controller
from local_processes import free_port, wait_until
from readme_examples import FASTAGI_EXAMPLE, readme_dialplan
from sipp_testing import sipp, start_contact_centre

pytestmark = pytest.mark.asterisk

SITE_FILE = "site-fastagi.conf"


def site_dialplan(port: int) -> str:
    """The README's custom destination on ``port``, and a context that sends a Bowmanville
    call to 311 into it as a FreePBX inbound route would (``FROM_DID`` set): a Local channel
    originated over ARI runs ``311`` and its other side waits in ``wait``."""
    example = "\n".join(readme_dialplan(FASTAGI_EXAMPLE))
    assert "agi://127.0.0.1:4573" in example
    caller = [
        "[fastagi-test-caller]",
        f"exten => 311,1,Set(CALLERID(num)={BOWMANVILLE_CALLER})",
        " same => n,Set(__FROM_DID=311)",
        " same => n,Goto(custom-ivr311,s,1)",
        "exten => wait,1,Wait(20)  ; the calling side, once the call is answered",
    ]
    return example.replace(":4573", f":{port}") + "\n\n" + "\n".join(caller) + "\n"


def install_site_dialplan(node: AsteriskNode, port: int) -> None:
    etc = node.root / "etc"
    (etc / SITE_FILE).write_text(site_dialplan(port), encoding="utf-8")
    extensions = etc / "extensions.conf"
    text = extensions.read_text(encoding="utf-8")
    if SITE_FILE not in text:
        extensions.write_text(text + f'\n#include "{SITE_FILE}"\n', encoding="utf-8")
    assert "Dialplan reloaded" in node.cli("dialplan reload")
    assert "custom-ivr311" in node.cli("dialplan show custom-ivr311")


def start_fastagi(work: Path, rules: Path, port: int) -> subprocess.Popen[bytes]:
    """``ivr311 fastagi --listen 127.0.0.1:PORT`` with ``rules`` seeding a fresh store, once
    it listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR311_")}
    env |= {
        "IVR311_RULES": str(rules),
        "IVR311_DATABASE_URL": f"sqlite:///{work / 'fastagi-rules.db'}",
        "IVR311_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    stdout, log = work / "fastagi.out", work / "fastagi.log"
    with stdout.open("wb") as out, log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "ivr311.cli", "fastagi", "--listen", f"127.0.0.1:{port}"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"ivr311 fastagi exited: {log.read_text(errors='replace')}")
        return f"agi://127.0.0.1:{port}" in stdout.read_text(errors="replace")

    try:
        wait_until(listening, 60, "ivr311 fastagi to listen")
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    return process


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "durham-open.yaml"
    path.write_text(durham_rules_yaml(open_now=True, now=datetime.now(UTC)), encoding="utf-8")
    return path


@pytest.fixture(params=["ivr311 fastagi", "ivr311 run"])
def fastagi_port(
    request: pytest.FixtureRequest, node: AsteriskNode, tmp_path: Path, rules_file: Path
) -> Iterator[int]:
    """A FastAGI server on a free port: ``ivr311 fastagi``, or the one ``ivr311 run`` starts."""
    if sipp() is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    port = free_port()
    if request.param == "ivr311 fastagi":
        process = start_fastagi(tmp_path, rules_file, port)
        try:
            yield port
        finally:
            process.terminate()
            assert process.wait(timeout=30) == 0
        return
    controller = start_controller(
        node, tmp_path, rules_file, {"IVR311_FASTAGI_LISTEN": f"127.0.0.1:{port}"}
    )
    try:
        yield port
    finally:
        controller.stop()


def test_the_custom_destination_dials_what_fastagi_answers(
    node: AsteriskNode, fastagi_port: int, tmp_path: Path
) -> None:
    node.load_rules(durham_for_test(open_now=True, now=datetime.now(UTC)))  # its fallback
    install_site_dialplan(node, fastagi_port)
    offset = len(node.log.read_text(encoding="utf-8", errors="replace"))
    centre = start_contact_centre(node, tmp_path)
    try:
        node.ari(
            "POST",
            "/channels?endpoint=Local/311@fastagi-test-caller"
            "&context=fastagi-test-caller&extension=wait&priority=1&formats=ulaw",
        )
        assert centre.wait(timeout_s=60) == 0
    finally:
        centre.kill()
    log = node.log.read_text(encoding="utf-8", errors="replace")[offset:]
    invited = re.findall(r"^INVITE (sip:\S+)", centre.trace(), flags=re.MULTILINE)
    assert invited == [f"sip:{CLARINGTON_CENTRE}@127.0.0.2:{node.contact_centre_port}"], log
    assert f"agi://127.0.0.1:{fastagi_port}" in log
    assert "Playing 'ivr311/transferring" in log
    assert "ivr311-fallback" not in log
