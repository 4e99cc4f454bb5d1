"""`ivr311-agi` driven as Asterisk drives it: the AGI environment on stdin, replies to each
command, and the channel variables it sets read back from stdout."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.agi import AgiCall, channel_variables, decide_for_agi
from routing_rules.snapshot import load_snapshot

TORONTO = ZoneInfo("America/Toronto")
MONDAY_MORNING = datetime(2026, 11, 16, 10, 0, tzinfo=TORONTO)
SUNDAY = datetime(2026, 11, 22, 10, 0, tzinfo=TORONTO)
_SET = re.compile(r'^SET VARIABLE "([A-Z0-9_]+)" "(.*)"$')


def agi_env(calling: str, extension: str = "311") -> str:
    lines = {
        "agi_request": "ivr311-agi",
        "agi_channel": "PJSIP/carrier-00000001",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_callerid": calling,
        "agi_calleridname": "unknown",
        "agi_context": "ivr311-agi-test",
        "agi_extension": extension,
        "agi_dnid": extension,
        "agi_priority": "2",
    }
    return "".join(f"{k}: {v}\n" for k, v in lines.items()) + "\n"


def run_agi(env: str, *args: str) -> tuple[int, dict[str, str]]:
    replies = "200 result=1\n" * 20
    done = subprocess.run(
        [sys.executable, "-m", "ivr.agi", *args],
        input=env + replies,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    variables: dict[str, str] = {}
    for line in done.stdout.splitlines():
        match = _SET.match(line)
        assert match, f"not an AGI command on stdout: {line!r}"
        variables[match[1]] = match[2]
    return done.returncode, variables


def test_a_bowmanville_caller_gets_the_destination_serving_clarington() -> None:
    code, variables = run_agi(
        agi_env("9056230123"), "--rules", "durham", "--at", MONDAY_MORNING.isoformat()
    )
    assert code == 0
    assert variables["IVR311_MUNICIPALITY"] == "clarington"
    assert variables["IVR311_DEST"] == "+19055550101"
    assert variables["IVR311_DIAL"] == "PJSIP/+19055550101@contact-centres"
    assert "clarington" in variables["IVR311_REASON"]


def test_after_hours_the_after_hours_line_and_its_message_are_set() -> None:
    code, variables = run_agi(
        agi_env("9056230123"), "--rules", "durham", "--at", SUNDAY.isoformat()
    )
    assert code == 0
    assert variables["IVR311_ACTION"] == "after_hours"
    assert variables["IVR311_DEST"] == "+19055550102"
    assert variables["IVR311_MESSAGE"] == "ivr311/after-hours&ivr311/emergency-911"


def test_a_failure_still_tells_the_dialplan_why() -> None:
    code, variables = run_agi(agi_env("9056230123"), "--rules", "/nonexistent/rules.yaml")
    assert code == 1
    assert variables["IVR311_DEST"] == ""
    assert variables["IVR311_REASON"].startswith("error: ")


@pytest.mark.parametrize("calling", ["anonymous", "", "Restricted"])
def test_a_withheld_number_gets_a_decision_without_a_menu(calling: str) -> None:
    snapshot = load_snapshot("durham")
    decision = decide_for_agi(snapshot, AgiCall("311", calling or None, MONDAY_MORNING, "en"))
    variables = channel_variables(decision, "contact-centres")
    assert variables["IVR311_ACTION"] == "agent"
    assert variables["IVR311_DEST"] == "+19055550101"


def test_values_never_break_the_agi_quoting() -> None:
    snapshot = load_snapshot("durham")
    decision = decide_for_agi(snapshot, AgiCall("311", "9056230123", MONDAY_MORNING, "en"))
    assert all('"' not in v and "\n" not in v for v in channel_variables(decision, "x").values())
