"""Driving ``ivr311-agi`` as Asterisk does: the AGI environment on stdin, a reply to each
command, and the channel variables read back from its ``SET VARIABLE`` commands."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structured_log import log_lines

from ivr.agi.script import main

TORONTO = ZoneInfo("America/Toronto")
MONDAY_MORNING = datetime(2026, 11, 16, 10, 0, tzinfo=TORONTO)
SUNDAY = datetime(2026, 11, 22, 10, 0, tzinfo=TORONTO)
REPLIES = "200 result=1\n" * 20
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


def run_agi(env: str, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, str]]:
    """``ivr311-agi ARGS`` in a process of its own: exit status and variables set."""
    code, variables, _ = run_agi_logged(env, *args, cwd=cwd)
    return code, variables


def run_agi_logged(
    env: str | bytes, *args: str, cwd: Path | None = None
) -> tuple[int, dict[str, str], list[dict[str, Any]]]:
    """`run_agi`, and the events it logged on stderr (Asterisk's log): each line must be one
    JSON event, never a traceback."""
    stdin = env.encode() if isinstance(env, str) else env
    done = subprocess.run(
        [sys.executable, "-m", "ivr.agi.script", *args],
        input=stdin + REPLIES.encode(),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    events = [json.loads(line) for line in log_lines(stderr)]
    return done.returncode, variables_of(done.stdout.decode()), events


def variables_of(stdout: str) -> dict[str, str]:
    """The variables of the AGI's output; anything but ``SET VARIABLE`` fails the test."""
    variables: dict[str, str] = {}
    for line in stdout.splitlines():
        match = _SET.match(line)
        assert match, f"not an AGI command on stdout: {line!r}"
        variables[match[1]] = match[2]
    return variables


def agi_in_process(
    stdin: bytes, argv: Sequence[str], monkeypatch: pytest.MonkeyPatch, *, replies: bool = True
) -> tuple[int, dict[str, str]]:
    """`run_agi` in this process (much quicker) with ``stdin`` as the raw bytes of the AGI
    environment; the exit status and the variables set. Without ``replies`` Asterisk answers
    no command (it went away). Log it with ``structured_log``."""
    stdout = io.StringIO()
    with monkeypatch.context() as patched:
        channel = io.BytesIO(stdin + (REPLIES.encode() if replies else b""))
        patched.setattr(sys, "stdin", io.TextIOWrapper(channel, encoding="utf-8"))
        patched.setattr(sys, "stdout", stdout)
        code = main(list(argv), exit_process=False)
    return code, variables_of(stdout.getvalue())
