"""``ivr311-agi``: the routing decision for dialplan-only sites, run from ``AGI()``.

A site that keeps its own dialplan (a FreePBX custom destination, for instance) runs
``AGI(ivr311-agi)`` and dials what it is told; the README's dialplan sends a call whose AGI
failed, or crashed, to the generated controller-free fallback.

Variables set on the channel: ``IVR311_DEST`` (E.164 number or SIP URI of the first open
destination, empty when only a message remains), ``IVR311_DEST_ID``, ``IVR311_DIAL`` (a PJSIP
dial string through ``--dial-endpoint``), ``IVR311_RING_TIMEOUT``, ``IVR311_MUNICIPALITY``,
``IVR311_ACTION`` (municipality, agent, after_hours, message or error), ``IVR311_MESSAGE`` (the
prompts to play first, ``ivr311/<id>&...``), ``IVR311_WEBSITE`` (the website prompts the
decision reads out, ``ivr311/website-<id>&...``, in the message or when the transfer fails)
and ``IVR311_REASON`` (why, for people).

Whatever fails (no store, invalid stored rules, missing geodata, wrong arguments, a garbled AGI
environment, a bug), the dialplan still gets something to do, one ``agi.failed`` JSON event goes
to stderr (Asterisk's log) and the process exits 0: ``IVR311_ACTION=error``, ``IVR311_REASON``
``error: TYPE: message``, and the host's agents in ``IVR311_DEST`` when the rules could be read,
else `SAFE_MESSAGE` in ``IVR311_MESSAGE`` (prompts that always ship). Only a channel that cannot
be written to (Asterisk hung up, stdin closed) leaves the variables unset.

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
import contextlib
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

if TYPE_CHECKING:
    from routing_rules.decision import Decision
    from routing_rules.geoview import GeoLookup
    from routing_rules.snapshot import RuleSnapshot
    from routing_rules.storage.reader import ActiveText
    from routing_rules.storage.store import StoredVersion

EXIT_OK = 0
EXIT_FAILED = 1
"""Exit status when Asterisk could not be told anything (the channel was gone)."""

SAFE_MESSAGE = ("override", "emergency-911", "goodbye")
"""What the caller hears when no rules can be read at all: "Our contact centre is temporarily
closed. If this is an emergency, hang up and dial 9 1 1. Thank you for calling. Goodbye." (the
prompts ship in every language; a rule set cannot remove them)."""

MAX_VALUE_CHARS = 500
"""The longest value set on the channel: Asterisk reads an AGI command line of at most 2 KiB."""

_UNQUOTABLE = str.maketrans({'"': "'", "\\": "/"})


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
    from recordings.manifest import sound_name
    from routing_rules.decision import OfferMenu, PlayGreeting, PlayMessage, TraceStage, Transfer
    from routing_rules.policy import dial_string

    step = decision.step
    reason = "; ".join(
        f"{t.stage}: {t.result}" for t in decision.trace if t.stage is not TraceStage.GREETING
    )
    values = _variables("message", reason)
    websites = dict.fromkeys(sound_name(w.prompt.id) for w in decision.websites)
    values["IVR311_WEBSITE"] = "&".join(websites)
    if isinstance(step, Transfer):
        values["IVR311_ACTION"] = step.kind
        values["IVR311_MUNICIPALITY"] = step.municipality_id or ""
        values["IVR311_MESSAGE"] = "&".join(sound_name(p.id) for p in step.announce)
        if step.chain:
            first = step.chain[0]
            values["IVR311_DEST"] = first.dial
            values["IVR311_DEST_ID"] = first.destination_id
            values["IVR311_DIAL"] = dial_string(first.dial, dial_endpoint)
            values["IVR311_RING_TIMEOUT"] = str(round(first.ring_timeout_s))
        else:
            values["IVR311_MESSAGE"] = "&".join(sound_name(p.id) for p in step.final_message)
    elif isinstance(step, PlayMessage):
        values["IVR311_MESSAGE"] = "&".join(sound_name(p.id) for p in step.prompts)
    elif isinstance(step, OfferMenu | PlayGreeting):
        values["IVR311_REASON"] = f"{reason}; no final decision without the caller"
    return {k: agi_value(v) for k, v in values.items()}


def failure_variables(
    snapshot: RuleSnapshot | None, failure: BaseException, dial_endpoint: str
) -> dict[str, str]:
    """The ``IVR311_*`` variables when deciding failed: the host's agents (announced as a
    transfer) when ``snapshot`` was read, else `SAFE_MESSAGE`; ``IVR311_ACTION`` is ``error``."""
    from recordings.manifest import sound_name

    values = _variables("error", f"error: {type(failure).__name__}: {failure}")
    values["IVR311_MESSAGE"] = "&".join(sound_name(p) for p in SAFE_MESSAGE)
    if snapshot is not None:
        try:
            from routing_rules.policy import dial_string, ring_timeout_s

            rules = snapshot.rules
            agents = snapshot.destinations[rules.host.agents]
            values |= {
                "IVR311_DEST": agents.dial,
                "IVR311_DEST_ID": agents.id,
                "IVR311_DIAL": dial_string(agents.dial, dial_endpoint),
                "IVR311_RING_TIMEOUT": str(round(ring_timeout_s(rules, agents))),
                "IVR311_MESSAGE": "&".join(sound_name(p) for p in rules.prompts.transferring),
            }
        except Exception:  # rules too broken to name their agents: the message stays
            pass
    return {k: agi_value(v) for k, v in values.items()}


CHANNEL_VARIABLES = tuple(
    f"IVR311_{name}"
    for name in (
        "DEST",
        "DEST_ID",
        "DIAL",
        "RING_TIMEOUT",
        "MUNICIPALITY",
        "MESSAGE",
        "WEBSITE",
        "ACTION",
        "REASON",
    )
)
"""Every variable the AGI sets on the channel, in the order it sets them."""


def _variables(action: str, reason: str) -> dict[str, str]:
    """Every ``IVR311_*`` variable the AGI sets, all but the action and the reason empty."""
    values = dict.fromkeys(CHANNEL_VARIABLES, "")
    return values | {"IVR311_ACTION": action, "IVR311_REASON": reason}


def agi_value(text: str) -> str:
    """``text`` as one AGI argument: one line of printable characters, no double quote or
    backslash, at most `MAX_VALUE_CHARS`."""
    text = text[: MAX_VALUE_CHARS * 2]
    printable = text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)
    return printable.translate(_UNQUOTABLE)[:MAX_VALUE_CHARS]


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
    from routing_rules.storage.errors import NoRuleStore
    from routing_rules.storage.store import RuleStore

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


DEFAULT_DIAL_ENDPOINT = "contact-centres"


def arguments_parser(
    prog: str = "ivr311-agi",
    *,
    rules_options: bool = True,
    dial_endpoint: str = DEFAULT_DIAL_ENDPOINT,
) -> argparse.ArgumentParser:
    """The arguments of ``AGI(...)``; without ``rules_options`` (the FastAGI server answers
    from its own rules) ``--rules`` and ``--database`` are wrong arguments."""
    parser = _Parser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("dialled", nargs="?", help="number dialled (default: the extension)")
    if rules_options:
        parser.add_argument("--rules", help="rule-set file or demo name (default: active version)")
        parser.add_argument(
            "--database",
            help="SQLAlchemy URL of the rule store (default $IVR311_DATABASE_URL, else the "
            "default store of the user Asterisk runs as)",
        )
    parser.add_argument("--language", default="en", choices=["en", "fr"])
    parser.add_argument("--dial-endpoint", default=dial_endpoint, help="PJSIP trunk")
    parser.add_argument("--at", type=datetime.fromisoformat, help="decide as of (ISO 8601)")
    return parser


def parse_arguments(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, WrongArguments | None]:
    """The arguments, or the defaults and why the given ones are wrong (`answer` then
    gives the failure variables)."""
    try:
        return parser.parse_args(argv), None
    except WrongArguments as exc:
        return parser.parse_args([]), exc


class WrongArguments(Exception):
    """The dialplan's arguments to ``AGI(ivr311-agi,...)`` are wrong (the message says how)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise WrongArguments(message)


@dataclass(frozen=True, slots=True)
class AgiAnswer:
    """What the dialplan is told about one call, and what went wrong on the way."""

    variables: dict[str, str]
    failure: Exception | None = None
    rules_read: bool = False


def answer(
    env: Mapping[str, str],
    args: argparse.Namespace,
    rules: Callable[[], RuleSnapshot],
    refused: Exception | None = None,
    *,
    call: AgiCall | None = None,
) -> AgiAnswer:
    """The ``IVR311_*`` variables for the call whose AGI environment is ``env``: the one
    decision path of ``ivr311-agi`` and the FastAGI server, which differ only in where
    ``rules`` come from. Any failure (``refused``: the arguments were wrong) gives
    `failure_variables`. ``call``: the call already read from ``env`` and ``args`` (its time
    then is the one the caller looked answers up by, see `ivr.agi.kept_answers`)."""
    snapshot: RuleSnapshot | None = None
    try:
        if refused is not None:
            raise refused
        if call is None:
            call = call_from_env(env, args)
        snapshot = rules()
        variables = channel_variables(decide_for_agi(snapshot, call), args.dial_endpoint)
    except Exception as exc:  # the dialplan must get something to do, whatever went wrong
        variables = failure_variables(snapshot, exc, args.dial_endpoint)
        return AgiAnswer(variables, exc, rules_read=snapshot is not None)
    return AgiAnswer(variables, rules_read=True)


def run(agi: AgiChannel, args: argparse.Namespace, refused: Exception | None = None) -> int:
    """Decide for the call on ``agi`` and set its variables; any failure (``refused``: the
    arguments were wrong) sets `failure_variables` and logs one ``agi.failed`` event."""
    result = answer(agi.env, args, lambda: load_rules(args.rules, args.database), refused)
    if result.failure is not None:
        log_failure("agi.failed", result.failure, rules_read=result.rules_read)
    try:
        for name, value in result.variables.items():
            agi.set_variable(name, value)
    except Exception as exc:  # Asterisk hung up or closed the channel: nobody to tell
        log_failure("agi.channel_lost", exc)
        return EXIT_FAILED
    return EXIT_OK


def log_failure(event: str, exc: BaseException, **details: object) -> None:
    import structlog

    from ivr.logs import exception_fields

    structlog.get_logger(__name__).error(event, **details, **exception_fields(exc))


def main(argv: Sequence[str] | None = None, *, exit_process: bool = True) -> int:
    """Run as Asterisk's AGI; with ``exit_process`` the process ends here, once its output is
    flushed, without the interpreter's teardown of the geodata index and every module (about
    a fifth of a second per call)."""
    args, refused = parse_arguments(arguments_parser(), argv)
    from ivr.logs import configure_logging

    # stdout is the AGI channel: logs go to stderr, and only warnings by default.
    configure_logging("json", os.environ.get("IVR311_LOG_LEVEL", "WARNING"))
    code = _serve(args, refused)
    if not exit_process:
        return code
    with contextlib.suppress(OSError, ValueError):  # a closed channel has nothing to flush
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _serve(args: argparse.Namespace, refused: Exception | None) -> int:
    """The AGI conversation on stdin and stdout."""
    from asterisk.agi import AGI

    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # Asterisk passes caller names as it got them
    try:
        # pyst2 echoes the whole AGI environment (calling number included) to stderr, which
        # Asterisk logs; a sink keeps it out of the logs.
        agi: AgiChannel = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=io.StringIO())
    except Exception as exc:
        log_failure("agi.channel_lost", exc)
        return EXIT_FAILED
    return run(agi, args, refused)


if __name__ == "__main__":
    sys.exit(main())
