"""``ivr311 rules ...``: routing rules as code (validate, apply, history, diff, rollback,
export, show). Exit codes and wording: :mod:`routing_rules.cli_output`; refusals a command does
not word itself (an invalid rule set, an unreadable file, a store that cannot be used) are
worded once, by the ``ivr311`` command's error boundary.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from routing_rules.cli_output import (
    EXIT_AFTER_ACTIVATION,
    EXIT_CONFLICT,
    EXIT_INVALID,
    EXIT_OK,
    conflict_message,
    describe_rules,
    fail,
    print_invalid,
    report_json,
    report_lines,
    version_line,
)
from routing_rules.snapshot import default_geo, load_snapshot, read_rules, snapshot_from_text
from routing_rules.storage.errors import ConflictError, StoreError
from routing_rules.storage.location import database_url
from routing_rules.storage.store import RuleStore, StoredVersion, unified_diff
from routing_rules.validation import RuleSetInvalid, validate_text

BASE_MARKER = re.compile(r"^# ivr311 base-version: (\d+)\s*\n")


class AfterActivation(Protocol):
    """A step ``rules apply`` and ``rules rollback`` take once a version is active.

    The ``ivr311`` command plugs in the dialplan's (`dialplan.cli.DialplanAfterActivation`,
    ``--dialplan FILE``), so this package does not depend on the dialplan package. ``run``
    returns None when it is done or was not asked for, else what went wrong; a failure never
    undoes the activation.
    """

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> str | None: ...


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    after_activation: AfterActivation | None = None,
) -> None:
    rules = subparsers.add_parser(
        "rules",
        help="validate, apply and version routing rules",
        description="Routing rules as code: validate a file, apply it as a new version, "
        "see history and diffs, roll back.",
    )
    commands = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    validate = commands.add_parser("validate", help="check a rule-set file; exit 2 on errors")
    validate.add_argument("file", help="rule-set YAML, or a demo name (durham, cape-breton)")
    validate.add_argument("--json", action="store_true", help="machine-readable report")
    validate.set_defaults(handler=_validate)

    apply = commands.add_parser("apply", help="validate, store and activate a rule-set file")
    apply.add_argument("file", help="rule-set YAML, or a demo name")
    database_option(apply)
    _audit_options(apply)
    apply.add_argument(
        "--base",
        type=int,
        help="the version this file was edited from (default: read from the header "
        "`rules export` writes)",
    )
    apply.add_argument(
        "--force", action="store_true", help="activate even if another version became active"
    )
    _after_activation_options(apply, after_activation)
    apply.set_defaults(handler=_apply)

    history = commands.add_parser("history", help="versions and activations")
    database_option(history)
    history.add_argument("--limit", type=int, default=20, help="most recent N (default 20)")
    history.set_defaults(handler=_history)

    diff = commands.add_parser("diff", help="unified diff between two versions or files")
    database_option(diff)
    diff.add_argument("old", help="version number, file or demo name")
    diff.add_argument("new", nargs="?", help="version number, file or demo (default: active)")
    diff.set_defaults(handler=_diff)

    rollback = commands.add_parser("rollback", help="re-activate an earlier version")
    database_option(rollback)
    _audit_options(rollback)
    rollback.add_argument("version", type=int)
    rollback.add_argument("--base", type=int, help="refuse if the active version is not this")
    _after_activation_options(rollback, after_activation)
    rollback.set_defaults(handler=_rollback)

    export = commands.add_parser("export", help="print a version's YAML (default: active)")
    database_option(export)
    export.add_argument("version", nargs="?", type=int)
    export.add_argument("-o", "--output", type=Path, help="write to this file")
    export.set_defaults(handler=_export)

    show = commands.add_parser("show", help="summarise a version (default: active) or a file")
    database_option(show)
    show.add_argument("what", nargs="?", help="version number, file or demo name")
    show.set_defaults(handler=_show)


def database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL (default $IVR311_DATABASE_URL, else the per-user store, "
        "$XDG_STATE_HOME/ivr311/rules.db)",
    )


def open_store(args: argparse.Namespace, *, create: bool = False) -> RuleStore:
    """The store of ``--database``; only ``rules apply`` creates a SQLite store that does not
    exist yet."""
    return RuleStore.open(database_url(args.database), create=create)


def _after_activation_options(
    parser: argparse.ArgumentParser, step: AfterActivation | None
) -> None:
    if step is not None:
        step.add_arguments(parser)
    parser.set_defaults(after_activation=step)


def _after_activation(args: argparse.Namespace, version: int) -> int:
    step: AfterActivation | None = args.after_activation
    problem = step.run(args) if step is not None else None
    if problem is None:
        return EXIT_OK
    return fail(
        f"{problem}; version {version} stays active (the activation is not undone)",
        EXIT_AFTER_ACTIVATION,
    )


def _audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--author", default=None, help="who (default: login name)")
    parser.add_argument("--comment", "-m", required=True, help="why")


def _author(args: argparse.Namespace) -> str:
    return str(args.author or getpass.getuser())


# -- rules validate / apply ------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    report = validate_text(read_rules(args.file), default_geo(), now=datetime.now(UTC))
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        print("\n".join(report_lines(args.file, report)))
    return EXIT_OK if report.ok else EXIT_INVALID


def split_base_marker(text: str) -> tuple[int | None, str]:
    """Strip the ``# ivr311 base-version: N`` line ``rules export`` puts first."""
    match = BASE_MARKER.match(text)
    if match is None:
        return None, text
    return int(match.group(1)), text[match.end() :]


def _apply(args: argparse.Namespace) -> int:
    marker, text = split_base_marker(read_rules(args.file))
    geo = default_geo()
    with open_store(args, create=True) as store:
        # Every problem of the file first: asking for --base would hide them.
        report = validate_text(text, geo, now=datetime.now(UTC))
        if not report.ok:
            return print_invalid(RuleSetInvalid(report, args.file))
        active = store.active_version()
        base = args.base if args.base is not None else marker
        if base is None and active is not None and not args.force:
            return fail(
                f"version {active} is active: say which version you edited with --base N "
                "(files from `rules export` carry it), or --force"
            )
        try:
            result = store.apply(
                text,
                author=_author(args),
                comment=args.comment,
                base_version=base,
                geo=geo,
                check_base=not args.force,
            )
        except RuleSetInvalid as exc:
            exc.source = args.file
            raise
        except ConflictError as exc:
            return fail(conflict_message(exc), EXIT_CONFLICT)
    if result.unchanged:
        print(f"unchanged: version {result.version} is already active with this content")
    else:
        previous = f" (was {result.previous_version})" if result.previous_version else ""
        print(f"applied: version {result.version} is active{previous}")
    return _after_activation(args, result.version)


# -- history / diff / rollback / export / show -----------------------------------------------


def _history(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        active = store.active_version()
        versions = store.versions()[-args.limit :]
        activations = store.activations()[-args.limit :]
    if not versions:
        print("no versions stored yet; `ivr311 rules apply FILE -m COMMENT` stores the first")
        return EXIT_OK
    print("versions:")
    for v in reversed(versions):
        print(version_line(v, active))
    print("activations:")
    for a in reversed(activations):
        was = f" (was {a.previous_version})" if a.previous_version else ""
        print(
            f"  {a.activated_at:%Y-%m-%d %H:%M:%S}Z  {a.action:<8} version {a.version}{was}  "
            f"{a.author}: {a.comment}"
        )
    return EXIT_OK


def _text_of(spec: str, store: RuleStore | None) -> tuple[str, str]:
    """A version's text (``spec`` a number, read from ``store``) or a file's or demo's."""
    if spec.isdigit() and store is not None:
        return f"version {spec}", store.get(int(spec)).content
    return spec, split_base_marker(read_rules(spec))[1]


def _diff(args: argparse.Namespace) -> int:
    if args.new is not None and not (args.old.isdigit() or args.new.isdigit()):
        old_name, old = _text_of(args.old, None)
        new_name, new = _text_of(args.new, None)
    else:
        with open_store(args) as store:
            old_name, old = _text_of(args.old, store)
            if args.new is None:
                current = store.active()
                if current is None:
                    return fail("nothing is active; give two versions or files")
                new_name, new = old_name, old
                old_name, old = f"version {current.version} (active)", current.content
            else:
                new_name, new = _text_of(args.new, store)
    patch = unified_diff(old, new, old_name, new_name)
    print(patch if patch else f"{old_name} and {new_name} are identical", end="" if patch else "\n")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as store:
            activation = store.rollback(
                args.version,
                author=_author(args),
                comment=args.comment,
                geo=default_geo(),
                base_version=args.base,
            )
    except ConflictError as exc:
        return fail(conflict_message(exc), EXIT_CONFLICT)
    print(
        f"rolled back: version {activation.version} is active (was {activation.previous_version})"
    )
    return _after_activation(args, activation.version)


def _stored_or_active(store: RuleStore, version: int | None) -> StoredVersion:
    if version is not None:
        return store.get(version)
    active = store.active()
    if active is None:
        raise StoreError("nothing is active yet")
    return active


def _export(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        stored = _stored_or_active(store, args.version)
    text = f"# ivr311 base-version: {stored.version}\n{stored.content}"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"version {stored.version} written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    geo = default_geo()
    audit: list[str] = []
    if args.what is not None and not args.what.isdigit():
        snapshot = load_snapshot(args.what, geo)
    else:
        with open_store(args) as store:
            stored = _stored_or_active(store, int(args.what) if args.what else None)
            active = store.active_version()
        snapshot = snapshot_from_text(
            stored.content, geo, source=f"store:version {stored.version}", version=stored.version
        )
        state = "active" if stored.version == active else "inactive"
        audit = [
            f"version {stored.version} ({state}), {stored.created_at:%Y-%m-%d %H:%M:%S}Z "
            f"by {stored.author}: {stored.comment}",
            f"content hash {stored.content_hash}, based on version {stored.base_version or '-'}",
        ]
    print("\n".join([*audit, *describe_rules(snapshot.rules)]))
    return EXIT_OK
