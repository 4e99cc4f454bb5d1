"""A real Asterisk with the rendered configuration: it loads cleanly, and with no controller
connected a 311 call from Bowmanville still reaches the right place (after hours, hearing
Clarington's website on the way)."""

from __future__ import annotations

import base64
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asterisk_testing import (
    AFTER_HOURS_LINE,
    ARI_PASSWORD,
    BOWMANVILLE_CALLER,
    CLARINGTON_CENTRE,
    AsteriskNode,
    durham_for_test,
)
from sipp_testing import call_311, sipp

pytestmark = pytest.mark.asterisk

CONTEXTS = (
    "ivr311-inbound",
    "ivr311-fallback",
    "ivr311-fallback-call",
    "ivr311-npa-nxx",
    "ivr311-exchange",
    "ivr311-municipality",
    "ivr311-chain",
    "ivr311-website",
    "ivr311-schedule",
    "ivr311-closed-durham-hours",
    "ivr311-from-contact-centres",
)


def new_log_lines(node: AsteriskNode, offset: int) -> str:
    return node.log.read_text(encoding="utf-8", errors="replace")[offset:]


def log_offset(node: AsteriskNode) -> int:
    return len(node.log.read_text(encoding="utf-8", errors="replace"))


def invited(messages: str) -> list[str]:
    return [line.split()[1] for line in messages.splitlines() if line.startswith("INVITE sip:")]


def test_the_rendered_configuration_loads_without_errors(node: AsteriskNode) -> None:
    assert node.errors() == []
    for context in CONTEXTS:
        shown = node.cli(f"dialplan show {context}")
        assert f"Context '{context}'" in shown, shown
    assert "Stasis(ivr311,inbound,311)" in node.cli("dialplan show 311@ivr311-inbound")
    assert "1 modules loaded" in node.cli("module show like app_stasis")
    assert "contact-centres" in node.cli("pjsip show endpoints")


def test_ari_answers_the_controller_user(node: AsteriskNode) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}/ari/asterisk/ping")
    token = base64.b64encode(f"ivr311:{ARI_PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert b'"ping":"pong"' in response.read()


def test_asterisk_metrics_are_served(node: AsteriskNode) -> None:
    url = f"http://127.0.0.1:{node.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert b"asterisk_channels_count" in response.read()


@pytest.fixture
def sipp_binary() -> str:
    binary = sipp()
    if binary is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    return binary


def test_without_controller_a_bowmanville_call_reaches_clarington_during_hours(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    node.load_rules(durham_for_test(open_now=True, now=datetime.now(UTC)))
    offset = log_offset(node)
    result = call_311(node, tmp_path, calling=BOWMANVILLE_CALLER, stay_ms=8000)
    log = new_log_lines(node, offset)
    assert (result.caller_exit, result.centre_exit) == (0, 0), log
    assert invited(result.centre_messages) == [
        f"sip:{CLARINGTON_CENTRE}@127.0.0.2:{node.contact_centre_port}"
    ]
    assert 'Stasis("PJSIP/carrier' in log  # the controller was tried first
    assert "Playing 'ivr311/transferring" in log
    assert node.errors() == []


def test_without_controller_after_hours_plays_the_message_then_the_after_hours_line(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    node.load_rules(durham_for_test(open_now=False, now=datetime.now(UTC)))
    offset = log_offset(node)
    result = call_311(node, tmp_path, calling=BOWMANVILLE_CALLER, stay_ms=16000)
    log = new_log_lines(node, offset)
    assert (result.caller_exit, result.centre_exit) == (0, 0), log
    assert "Playing 'ivr311/after-hours" in log
    assert "Playing 'ivr311/emergency-911" in log
    assert "Playing 'ivr311/website-clarington" in log, "Clarington's website, in the subroutine"
    assert invited(result.centre_messages) == [
        f"sip:{AFTER_HOURS_LINE}@127.0.0.2:{node.contact_centre_port}"
    ]
    assert CLARINGTON_CENTRE not in result.centre_messages
