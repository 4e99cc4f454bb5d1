"""Rule sets made for dialplan tests: the demo rules with one schedule or route changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from fallback_walk import read_dialplan

from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text

RENDERED_AT = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
"""A Monday, 10:00 in Toronto: golden files are rendered as of this instant."""
UNKNOWN_TO_ASTERISKLINT = ("JSON_DECODE", "EXPORT")
"""Functions Asterisk has (func_json, since 16.24; func_export, since 16.30) and asterisklint's
list lacks."""


def asterisklint() -> str | None:
    beside = Path(sys.executable).parent / "asterisklint"
    return str(beside) if beside.exists() else shutil.which("asterisklint")


def asterisklint_findings(lint: str, directory: Path) -> list[str]:
    """What ``asterisklint dialplan-check extensions.conf`` reports in ``directory``, less
    the functions it does not know (`UNKNOWN_TO_ASTERISKLINT`)."""
    done = subprocess.run(
        [lint, "dialplan-check", "extensions.conf"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    return [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if not any(f"function '{name}' does not exist" in line for name in UNKNOWN_TO_ASTERISKLINT)
    ]


def demo_rules(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEMO_DIR / f"{name}.yaml").read_text("utf-8"))
    return data


def snapshot_of(name: str, change: Callable[[dict[str, Any]], None]) -> RuleSnapshot:
    """The demo rule set ``name`` after ``change`` edits its data."""
    data = demo_rules(name)
    change(data)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return snapshot_from_text(text, default_geo(), source=f"test:{name}")


def parse_dialplan(text: str) -> dict[str, dict[str, list[str]]]:
    """Context → extension → its applications in order (comments and labels dropped), as
    Asterisk reads the simple ``exten =>`` / ``same =>`` lines the renderer writes."""
    return {
        name: {exten: [app for _label, app in priorities] for exten, priorities in context.items()}
        for name, context in read_dialplan(text).items()
    }
