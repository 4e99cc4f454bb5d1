"""``ivr311-agi``: the routing decision for dialplan-only sites, run from ``AGI()``.

A site that keeps its own dialplan (a FreePBX custom destination, for instance) runs
``AGI(ivr311-agi)`` and dials what it is told::

    same => n,AGI(ivr311-agi)
    same => n,GotoIf($["${IVR311_DEST}" = ""]?message)
    same => n,Dial(PJSIP/${IVR311_DEST}@my-trunk,${IVR311_RING_TIMEOUT})

Variables set on the channel: ``IVR311_DEST`` (E.164 number or SIP URI of the first open
destination, empty when only a message remains), ``IVR311_DEST_ID``, ``IVR311_DIAL`` (a PJSIP
dial string through ``--dial-endpoint``), ``IVR311_RING_TIMEOUT``, ``IVR311_MUNICIPALITY``,
``IVR311_ACTION`` (municipality, agent, after_hours or message), ``IVR311_MESSAGE`` (the
prompts to play first, ``ivr311/<id>&...``) and ``IVR311_REASON`` (why, for people).

The decision is the engine's for a caller who heard the greeting and made no menu choice. The
rules are the store's active version (``IVR311_DATABASE_URL``) or ``--rules``; the geographic
index comes from its disk cache. Imports are deferred until needed so that each call starts a
fresh, quick process.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from routing_rules.decision import Decision
    from routing_rules.snapshot import RuleSnapshot

EXIT_OK = 0
EXIT_FAILED = 1
_UNQUOTABLE = str.maketrans({'"': "'", "\\": "/", "\n": " ", "\r": " "})


class AgiChannel(Protocol):
    env: Mapping[str, str]

    def set_variable(self, name: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AgiCall:
    dialled: str
    calling: str | None
    at: datetime
    language: str


def decide_for_agi(snapshot: RuleSnapshot, call: AgiCall) -> Decision:
    """The engine's decision with the greeting done and no menu choice (defaults apply)."""
    from routing_rules.decision import CallContext, decide

    attempts = ("",) * snapshot.rules.overlap_policy.max_attempts
    ctx = CallContext(
        dialled=call.dialled,
        calling=call.calling,
        at=call.at,
        language=call.language,
        greeting_done=True,
        digits=attempts,
    )
    return decide(snapshot, ctx)


def channel_variables(decision: Decision, dial_endpoint: str) -> dict[str, str]:
    """The ``IVR311_*`` variables of one decision."""
    from routing_rules.decision import OfferMenu, PlayGreeting, PlayMessage, Transfer

    step = decision.step
    reason = "; ".join(f"{t.stage}: {t.result}" for t in decision.trace if t.stage != "greeting")
    values = {
        "IVR311_DEST": "",
        "IVR311_DEST_ID": "",
        "IVR311_DIAL": "",
        "IVR311_RING_TIMEOUT": "",
        "IVR311_MUNICIPALITY": "",
        "IVR311_ACTION": "message",
        "IVR311_MESSAGE": "",
        "IVR311_REASON": reason,
    }
    if isinstance(step, Transfer):
        values["IVR311_ACTION"] = step.kind
        values["IVR311_MUNICIPALITY"] = step.municipality_id or ""
        values["IVR311_MESSAGE"] = "&".join(f"ivr311/{p.id}" for p in step.announce)
        if step.chain:
            first = step.chain[0]
            values["IVR311_DEST"] = first.dial
            values["IVR311_DEST_ID"] = first.destination_id
            values["IVR311_DIAL"] = _dial_string(first.dial, dial_endpoint)
            values["IVR311_RING_TIMEOUT"] = str(round(first.ring_timeout_s))
        else:
            values["IVR311_MESSAGE"] = "&".join(f"ivr311/{p.id}" for p in step.final_message)
    elif isinstance(step, PlayMessage):
        values["IVR311_MESSAGE"] = "&".join(f"ivr311/{p.id}" for p in step.prompts)
    elif isinstance(step, OfferMenu | PlayGreeting):
        values["IVR311_REASON"] = f"{reason}; no final decision without the caller"
    return {k: v.translate(_UNQUOTABLE) for k, v in values.items()}


def _dial_string(dial: str, endpoint: str) -> str:
    if dial.startswith(("sip:", "sips:")):
        return f"PJSIP/{endpoint}/{dial}"
    return f"PJSIP/{dial}@{endpoint}"


def load_rules(spec: str | None) -> RuleSnapshot:
    """``spec`` (demo name or file), else the store's active version, else ``IVR311_RULES``."""
    from routing_rules.snapshot import default_geo, load_snapshot

    if spec:
        return load_snapshot(spec)
    url = os.environ.get("IVR311_DATABASE_URL")
    if url or os.path.exists("var/ivr311.db"):
        from routing_rules.storage.store import RuleStore, database_url

        store = RuleStore.open(database_url(url))
        try:
            active = store.load_snapshot(default_geo())
        finally:
            store.close()
        if active is not None:
            return active
    return load_snapshot(os.environ.get("IVR311_RULES", "durham"))


def call_from_env(env: Mapping[str, str], args: argparse.Namespace) -> AgiCall:
    dialled = args.dialled or env.get("agi_dnid") or env.get("agi_extension", "")
    if dialled in {"", "unknown", "s"}:
        dialled = env.get("agi_extension", "")
    calling = env.get("agi_callerid") or None
    if calling == "unknown":
        calling = None
    return AgiCall(
        dialled=dialled,
        calling=calling,
        at=args.at or datetime.now(UTC),
        language=args.language,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr311-agi", description=__doc__.splitlines()[0])
    parser.add_argument("dialled", nargs="?", help="number dialled (default: the extension)")
    parser.add_argument("--rules", help="rule-set file or demo name (default: active version)")
    parser.add_argument("--language", default="en", choices=["en", "fr"])
    parser.add_argument("--dial-endpoint", default="contact-centres", help="PJSIP trunk")
    parser.add_argument("--at", type=datetime.fromisoformat, help="decide as of (ISO 8601)")
    return parser


def run(agi: AgiChannel, args: argparse.Namespace) -> int:
    """Decide for the call on ``agi`` and set its variables; failures set a reason too."""
    call = call_from_env(agi.env, args)
    try:
        snapshot = load_rules(args.rules)
        values = channel_variables(decide_for_agi(snapshot, call), args.dial_endpoint)
    except Exception as exc:  # the channel must learn why, whatever went wrong
        agi.set_variable("IVR311_DEST", "")
        agi.set_variable("IVR311_REASON", f"error: {exc}".translate(_UNQUOTABLE)[:500])
        return EXIT_FAILED
    for name, value in values.items():
        agi.set_variable(name, value)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from asterisk.agi import AGI

    from ivr.logs import configure_logging

    # stdout is the AGI channel: logs go to stderr, and only warnings by default.
    configure_logging("json", os.environ.get("IVR311_LOG_LEVEL", "WARNING"))

    # pyst2 echoes the whole AGI environment (calling number included) to stderr, which
    # Asterisk logs; a sink keeps it out of the logs.
    agi: AgiChannel = AGI(stderr=io.StringIO())
    return run(agi, args)


if __name__ == "__main__":
    sys.exit(main())
