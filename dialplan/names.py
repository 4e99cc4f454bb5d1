"""Dialplan-safe names for rule-set ids, a way to write text into dialplan arguments, and the
names the controller shares with the generated configuration: the fallback context, the
variable of a call's saved state and Kamailio's table of ready nodes."""

from __future__ import annotations

import hashlib
import re

FALLBACK_CONTEXT = "ivr311-fallback"
"""The default dialplan context of the controller-free fallback: where failed Stasis entries
go and where the controller hands calls back (``IVR311_FALLBACK_CONTEXT`` renames it)."""

STATE_VARIABLE = "IVR311_STATE"
"""The caller's channel variable holding the call's saved state (`ivr.call.persistor`), where
the generated transfer context reads a handed-over transfer's plan (``IVR311_STATE_VARIABLE``
names another)."""

READY_NODES_TABLE = "ready_nodes"
"""Kamailio's hash table of the nodes whose controller is ready: `kamailio-conf/` routes by it,
each controller keeps its node's key there (`ivr.controller.proxy_presence`)."""

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
