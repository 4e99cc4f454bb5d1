"""Rule sets made for dialplan tests: the demo rules with one schedule or route changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from fallback_walk import read_dialplan

from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text

RENDERED_AT = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
"""A Monday, 10:00 in Toronto: golden files are rendered as of this instant."""


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
