"""The emergency override as a rule edit: a new, audited rule version.

Versions are immutable, so switching the override on or off never touches a stored version: it
copies the active version's YAML, rewrites only the schedule's ``emergency_override`` block
(comments and layout elsewhere are kept, so ``rules diff`` shows just that change) and applies
the result as a new version through the rule store, with the author, the reason and the version
it started from. History, diff and rollback then treat an override like any other change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

_TOP_LEVEL_KEY = re.compile(r"^[^\s#]")


@dataclass(frozen=True, slots=True)
class OverrideChange:
    """What the schedule's ``emergency_override`` should say after the change."""

    active: bool
    reason: str
    expires: datetime | None = None
    destination: str | None = None

    def as_mapping(self) -> dict[str, Any]:
        data: dict[str, Any] = {"active": self.active, "reason": self.reason}
        if self.expires is not None:
            data["expires"] = self.expires
        if self.destination is not None:
            data["destination"] = self.destination
        return data

    def yaml_lines(self, indent: str) -> list[str]:
        inner = indent + "  "
        lines = [
            f"{indent}emergency_override:\n",
            f"{inner}active: {'true' if self.active else 'false'}\n",
            f"{inner}reason: {yaml_quoted(self.reason)}\n",
        ]
        if self.expires is not None:
            lines.append(f"{inner}expires: {self.expires.isoformat()}\n")
        if self.destination is not None:
            lines.append(f"{inner}destination: {yaml_quoted(self.destination)}\n")
        return lines


def yaml_quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (escapes for everything YAML may not print)."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F or (code >= 0xA0 and char.isprintable() and code != 0xFEFF):
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _block_end(lines: list[str], start: int, parent_indent: int) -> int:
    """Index after the last line (blank lines excluded) nested deeper than ``parent_indent``."""
    end = start
    for i in range(start, len(lines)):
        if _blank(lines[i]):
            continue
        if _indent(lines[i]) <= parent_indent:
            break
        end = i + 1
    return end


def _edit_text(text: str, schedule: str, change: OverrideChange) -> str | None:
    """The block-style edit; ``None`` when the layout is not the plain block style."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    try:
        top = next(i for i, line in enumerate(lines) if re.match(r"^schedules:\s*(#.*)?$", line))
    except StopIteration:
        return None
    name = re.compile(rf"^(\s+)[\"']?{re.escape(schedule)}[\"']?:\s*(#.*)?$")
    head = None
    for i in range(top + 1, len(lines)):
        if _TOP_LEVEL_KEY.match(lines[i]):
            break
        if name.match(lines[i]):
            head = i
            break
    if head is None:
        return None
    schedule_indent = _indent(lines[head])
    end = _block_end(lines, head + 1, schedule_indent)
    children = [i for i in range(head + 1, end) if not _blank(lines[i])]
    if not children:
        return None
    child_indent = min(_indent(lines[i]) for i in children)
    pad = " " * child_indent
    replacement = change.yaml_lines(pad)
    existing = next((i for i in children if lines[i].startswith(f"{pad}emergency_override:")), None)
    if existing is None:
        lines[end:end] = replacement
    else:
        lines[existing : _block_end(lines, existing + 1, child_indent)] = replacement
    return "".join(lines)


def set_override(text: str, schedule: str, change: OverrideChange) -> str:
    """``text`` with ``schedules.<schedule>.emergency_override`` replaced by ``change``.

    Raises ``KeyError`` when the rule set has no such schedule.
    """
    data = yaml.safe_load(text)
    if schedule not in (data.get("schedules") or {}):
        raise KeyError(schedule)
    edited = _edit_text(text, schedule, change)
    if edited is not None:
        check = yaml.safe_load(edited)
        if check["schedules"][schedule].get("emergency_override") == change.as_mapping():
            return edited
    # A flow-style or otherwise unusual layout: rewrite the whole document (comments are lost).
    data["schedules"][schedule]["emergency_override"] = change.as_mapping()
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
