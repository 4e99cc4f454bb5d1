"""Dialplan-safe names for rule-set ids and a way to write text into dialplan arguments."""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_UNSAFE_TEXT = re.compile(r"[^A-Za-z0-9 .:%/+-]")


def extension_name(value: str) -> str:
    """``value`` when it is a plain slug, else a stable name derived from its hash.

    Slugs (the rule-set ids) are valid extension names as they are; anything else (a schedule
    named with spaces, say) gets ``x`` and a hash, so no id can inject dialplan syntax.
    """
    if _SAFE.match(value) and not value.startswith(("s-", "i-", "t-")) and value not in {"s"}:
        return value
    return "x" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def note(text: str) -> str:
    """Text for a NoOp() or Set() argument: no commas, quotes, brackets or variables."""
    return _UNSAFE_TEXT.sub(" ", text).strip()
