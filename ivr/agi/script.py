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
rules are ``--rules``, else the store's active version (``--database``, ``IVR311_DATABASE_URL``
or the default store; it is never created here), else ``IVR311_RULES``. The geographic index
comes from its disk cache, and the active version's validated rule set from a cache file next
to it, keyed by version, content hash, geodata and code. Imports are deferred until needed
(Alembic only when the store's schema needs a migration) so that each call starts a fresh,
quick process.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from routing_rules.decision import Decision
    from routing_rules.geoview import GeoLookup
    from routing_rules.snapshot import RuleSnapshot
    from routing_rules.storage.reader import ActiveText
    from routing_rules.storage.store import StoredVersion

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
    from routing_rules.decision import CallContext
    from routing_rules.engine import decide

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
    from routing_rules.decision import OfferMenu, PlayGreeting, PlayMessage, TraceStage, Transfer
    from routing_rules.policy import dial_string

    step = decision.step
    reason = "; ".join(
        f"{t.stage}: {t.result}" for t in decision.trace if t.stage is not TraceStage.GREETING
    )
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
            values["IVR311_DIAL"] = dial_string(first.dial, dial_endpoint)
            values["IVR311_RING_TIMEOUT"] = str(round(first.ring_timeout_s))
        else:
            values["IVR311_MESSAGE"] = "&".join(f"ivr311/{p.id}" for p in step.final_message)
    elif isinstance(step, PlayMessage):
        values["IVR311_MESSAGE"] = "&".join(f"ivr311/{p.id}" for p in step.prompts)
    elif isinstance(step, OfferMenu | PlayGreeting):
        values["IVR311_REASON"] = f"{reason}; no final decision without the caller"
    return {k: v.translate(_UNQUOTABLE) for k, v in values.items()}


def load_rules(spec: str | None, database: str | None = None) -> RuleSnapshot:
    """``spec`` (demo name or file), else the active version of the store ``database`` (default
    ``$IVR311_DATABASE_URL``, else the per-user default), else ``IVR311_RULES``."""
    from routing_rules.snapshot import default_geo, load_snapshot

    if spec:
        return load_snapshot(spec)
    from routing_rules.storage.location import database_url

    url = database_url(database)
    try:
        stored = _active_version(url)
    except _NoStore:
        stored = None  # nothing stored yet: the rules a controller would seed the store with
    if stored is not None:
        return active_snapshot(stored, default_geo())
    return load_snapshot(os.environ.get("IVR311_RULES", "durham"))


class _NoStore(Exception):
    pass


def _active_version(url: str) -> ActiveText | StoredVersion | None:
    """The active version of the store at ``url``: a plain SQLite file is read with the
    standard library; anything else (or a store that needs a migration) through `RuleStore`,
    which never creates one here. Raises `_NoStore` when there is no store."""
    from routing_rules.storage.reader import NotReadableHere, read_active, sqlite_file

    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            raise _NoStore
        try:
            return read_active(path)
        except NotReadableHere:
            pass
    from routing_rules.storage.store import NoRuleStore, RuleStore

    try:
        store = RuleStore.open(url, create=False)
    except NoRuleStore as exc:
        raise _NoStore from exc
    try:
        return store.active()
    finally:
        store.close()


_CACHE_TAG = "ivr311-validated-rules"
"""Cache entries are tuples ``(tag, content hash, RuleSet, warnings)``: no class of this module,
which runs as ``__main__`` too, is pickled."""
_RULES_CODE = ("schema.py", "validation.py", "prompts.py")


def _rules_cache_path(cache_dir: Path, version: int, digest: str, geo_hash: str) -> Path:
    import pydantic

    import routing_rules

    key = hashlib.sha256(f"{version}\0{digest}\0{geo_hash}\0{pydantic.VERSION}".encode())
    here = Path(routing_rules.__file__).resolve().parent
    for name in _RULES_CODE:
        key.update((here / name).read_bytes())
    return cache_dir / f"rules-{key.hexdigest()[:40]}.pickle"


def active_snapshot(
    stored: ActiveText | StoredVersion, geo: GeoLookup, cache_dir: Path | None = None
) -> RuleSnapshot:
    """A stored version as a snapshot, its validation skipped when a cache file (in the
    geodata index's cache directory) holds the rule set validated before."""
    import structlog

    from geo.index import default_cache_dir
    from routing_rules.schema import RuleSet
    from routing_rules.snapshot import RuleSnapshot, snapshot_from_text

    source = f"store:version {stored.version}"
    path = _rules_cache_path(
        cache_dir or default_cache_dir(), stored.version, stored.content_hash, geo.content_hash
    )
    try:
        with path.open("rb") as cache_file:
            cached = pickle.load(cache_file)
        tag, digest, rules, warnings = cached
        if tag == _CACHE_TAG and digest == stored.content_hash and isinstance(rules, RuleSet):
            return RuleSnapshot.build(
                rules,
                geo,
                version=stored.version,
                content_hash=stored.content_hash,
                source=source,
                warnings=tuple(str(w) for w in warnings),
            )
    except FileNotFoundError:
        pass
    except Exception as exc:  # an unreadable cache file only means validating again
        structlog.get_logger(__name__).warning(
            "agi.rules_cache_unreadable", path=str(path), error=repr(exc)
        )
    snapshot = snapshot_from_text(stored.content, geo, source=source, version=stored.version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".rules-", suffix=".tmp", delete=False
        ) as temporary:
            entry = (_CACHE_TAG, snapshot.content_hash, snapshot.rules, snapshot.warnings)
            pickle.dump(entry, temporary, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary.name, path)
    except OSError as exc:
        structlog.get_logger(__name__).warning(
            "agi.rules_cache_not_written", path=str(path), error=repr(exc)
        )
    return snapshot


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
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL of the rule store (default $IVR311_DATABASE_URL, else the "
        "default store of the user Asterisk runs as)",
    )
    parser.add_argument("--language", default="en", choices=["en", "fr"])
    parser.add_argument("--dial-endpoint", default="contact-centres", help="PJSIP trunk")
    parser.add_argument("--at", type=datetime.fromisoformat, help="decide as of (ISO 8601)")
    return parser


def run(agi: AgiChannel, args: argparse.Namespace) -> int:
    """Decide for the call on ``agi`` and set its variables; failures set a reason too."""
    call = call_from_env(agi.env, args)
    try:
        snapshot = load_rules(args.rules, args.database)
        values = channel_variables(decide_for_agi(snapshot, call), args.dial_endpoint)
    except Exception as exc:  # the channel must learn why, whatever went wrong
        agi.set_variable("IVR311_DEST", "")
        agi.set_variable("IVR311_REASON", f"error: {exc}".translate(_UNQUOTABLE)[:500])
        return EXIT_FAILED
    for name, value in values.items():
        agi.set_variable(name, value)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, exit_process: bool = True) -> int:
    """Run as Asterisk's AGI; with ``exit_process`` the process ends here, once its output is
    flushed, without the interpreter's teardown of the geodata index and every module (about
    a fifth of a second per call)."""
    args = _parser().parse_args(argv)
    from asterisk.agi import AGI

    from ivr.logs import configure_logging

    # stdout is the AGI channel: logs go to stderr, and only warnings by default.
    configure_logging("json", os.environ.get("IVR311_LOG_LEVEL", "WARNING"))

    # pyst2 echoes the whole AGI environment (calling number included) to stderr, which
    # Asterisk logs; a sink keeps it out of the logs.
    agi: AgiChannel = AGI(stderr=io.StringIO())
    code = run(agi, args)
    if not exit_process:
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
