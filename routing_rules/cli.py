"""``ivr311 rules ...`` (config as code) and ``ivr311 simulate`` (one call, no phone).

Exit codes: 0 success, 1 refused (missing file, unknown version, store error), 2 the rule set
(or a coordinate) is invalid, 3 conflict with a change activated in the meantime, 4 the version
is active but a step after the activation failed (the dialplan could not be written or
reloaded).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from pathlib import Path
from typing import Protocol

from geo.coordinates import coordinate_problem
from routing_rules.schema import HOST_AGENTS, RuleSet
from routing_rules.simulate import as_json, parse_at, parse_presses, render_text, simulate_call
from routing_rules.snapshot import (
    RuleSnapshot,
    default_geo,
    load_snapshot,
    read_rules,
    snapshot_from_text,
)
from routing_rules.storage.store import (
    ConflictCause,
    ConflictError,
    RuleStore,
    StoredVersion,
    StoreError,
    database_url,
    unified_diff,
)
from routing_rules.validation import RuleSetInvalid, validate_text

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_CONFLICT = 3
EXIT_AFTER_ACTIVATION = 4
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
    _database_option(apply)
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
    _database_option(history)
    history.add_argument("--limit", type=int, default=20, help="most recent N (default 20)")
    history.set_defaults(handler=_history)

    diff = commands.add_parser("diff", help="unified diff between two versions or files")
    _database_option(diff)
    diff.add_argument("old", help="version number, file or demo name")
    diff.add_argument("new", nargs="?", help="version number, file or demo (default: active)")
    diff.set_defaults(handler=_diff)

    rollback = commands.add_parser("rollback", help="re-activate an earlier version")
    _database_option(rollback)
    _audit_options(rollback)
    rollback.add_argument("version", type=int)
    rollback.add_argument("--base", type=int, help="refuse if the active version is not this")
    _after_activation_options(rollback, after_activation)
    rollback.set_defaults(handler=_rollback)

    export = commands.add_parser("export", help="print a version's YAML (default: active)")
    _database_option(export)
    export.add_argument("version", nargs="?", type=int)
    export.add_argument("-o", "--output", type=Path, help="write to this file")
    export.set_defaults(handler=_export)

    show = commands.add_parser("show", help="summarise a version (default: active) or a file")
    _database_option(show)
    show.add_argument("what", nargs="?", help="version number, file or demo name")
    show.set_defaults(handler=_show)

    simulate = subparsers.add_parser(
        "simulate",
        help="trace one call through the rules",
        description="Print the decision trace of one call and where it ends.",
    )
    simulate.add_argument(
        "--rules",
        default="durham",
        help="demo name (durham, cape-breton) or rule-set file (default durham)",
    )
    simulate.add_argument(
        "--store",
        action="store_true",
        help="use the database's active version instead of --rules",
    )
    simulate.add_argument("--version", type=int, help="with --store: this stored version")
    _database_option(simulate)
    simulate.add_argument("--from", dest="calling", help="calling number as delivered")
    simulate.add_argument("--to", dest="dialled", default="311", help="number dialled (311)")
    simulate.add_argument(
        "--at", help="ISO time; without offset it is host local time (default now)"
    )
    simulate.add_argument(
        "--press",
        action="append",
        default=[],
        help="menu keys in order, e.g. 2 or 7,t,2 (t = no input); repeatable",
    )
    simulate.add_argument(
        "--greeting-key", help="key pressed during the greeting (0 = live agent, 9 = French)"
    )
    simulate.add_argument("--lat", type=float, help="caller latitude")
    simulate.add_argument("--lon", type=float, help="caller longitude")
    simulate.add_argument("--language", default="en", help="starting language (en, fr)")
    simulate.add_argument("--json", action="store_true", help="JSON outcome and trace")
    simulate.set_defaults(handler=_simulate)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL (default $IVR311_DATABASE_URL, else the per-user store, "
        "$XDG_STATE_HOME/ivr311/rules.db)",
    )


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
    return _fail(
        f"{problem}; version {version} stays active (the activation is not undone)",
        EXIT_AFTER_ACTIVATION,
    )


def _audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--author", default=None, help="who (default: login name)")
    parser.add_argument("--comment", "-m", required=True, help="why")


def _author(args: argparse.Namespace) -> str:
    return str(args.author or getpass.getuser())


def _fail(message: str, code: int = EXIT_REFUSED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def conflict_message(exc: ConflictError) -> str:
    """What an admin whose change lost a race reads, and what to do about it."""
    started = f"version {exc.base}" if exc.base is not None else "an empty store"
    if exc.active is None:
        return (
            f"conflict: you started from {started} but another change was activated while "
            "this one was saved; export the active version, merge your change into it and "
            "apply again with --base and its number"
        )
    concurrently = " (activated concurrently)" if exc.cause is ConflictCause.CONCURRENT else ""
    return (
        f"conflict: you started from {started} but version {exc.active} is active now"
        f"{concurrently}; export version {exc.active}, merge your change into it and apply "
        f"again with --base {exc.active}"
    )


def _read(spec: str) -> str:
    return read_rules(spec)


def _open_store(args: argparse.Namespace, *, create: bool = False) -> RuleStore:
    """The store; only ``rules apply`` creates a SQLite store that does not exist yet."""
    return RuleStore.open(database_url(args.database), create=create)


def _print_invalid(exc: RuleSetInvalid) -> int:
    for problem in exc.report.errors:
        print(f"{exc.source}: {problem}", file=sys.stderr)
    print(f"{exc.source}: {len(exc.report.errors)} error(s); nothing changed", file=sys.stderr)
    return EXIT_INVALID


# -- rules validate / apply ------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
    except OSError as exc:
        return _fail(str(exc))
    report = validate_text(text, default_geo())
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "errors": [{"path": p.path, "message": p.message} for p in report.errors],
                    "warnings": [{"path": p.path, "message": p.message} for p in report.warnings],
                },
                indent=2,
            )
        )
    else:
        for problem in report.errors:
            print(f"{args.file}: error: {problem}")
        for problem in report.warnings:
            print(f"{args.file}: warning: {problem}")
        verdict = "valid" if report.ok else f"{len(report.errors)} error(s)"
        print(f"{args.file}: {verdict}, {len(report.warnings)} warning(s)")
    return EXIT_OK if report.ok else EXIT_INVALID


def split_base_marker(text: str) -> tuple[int | None, str]:
    """Strip the ``# ivr311 base-version: N`` line ``rules export`` puts first."""
    match = BASE_MARKER.match(text)
    if match is None:
        return None, text
    return int(match.group(1)), text[match.end() :]


def _apply(args: argparse.Namespace) -> int:
    try:
        marker, text = split_base_marker(_read(args.file))
    except OSError as exc:
        return _fail(str(exc))
    geo = default_geo()
    try:
        store = _open_store(args, create=True)
    except StoreError as exc:
        return _fail(str(exc))
    try:
        # Every problem of the file first: asking for --base would hide them.
        report = validate_text(text, geo)
        if not report.ok:
            return _print_invalid(RuleSetInvalid(report, args.file))
        active = store.active_version()
        base = args.base if args.base is not None else marker
        if base is None and active is not None and not args.force:
            return _fail(
                f"version {active} is active: say which version you edited with --base N "
                "(files from `rules export` carry it), or --force"
            )
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
        return _print_invalid(exc)
    except ConflictError as exc:
        return _fail(conflict_message(exc), EXIT_CONFLICT)
    except StoreError as exc:
        return _fail(str(exc))
    finally:
        store.close()
    if result.unchanged:
        print(f"unchanged: version {result.version} is already active with this content")
    else:
        previous = f" (was {result.previous_version})" if result.previous_version else ""
        print(f"applied: version {result.version} is active{previous}")
    return _after_activation(args, result.version)


# -- history / diff / rollback / export / show -----------------------------------------------


def _history(args: argparse.Namespace) -> int:
    try:
        with _open_store(args) as store:
            active = store.active_version()
            versions = store.versions()[-args.limit :]
            activations = store.activations()[-args.limit :]
    except StoreError as exc:
        return _fail(str(exc))
    if not versions:
        print("no versions stored yet; `ivr311 rules apply FILE -m COMMENT` stores the first")
        return EXIT_OK
    print("versions:")
    for v in reversed(versions):
        mark = "*" if v.version == active else " "
        print(
            f" {mark}{v.version:>4}  {v.created_at:%Y-%m-%d %H:%M:%S}Z  {v.author:<12} "
            f"{v.content_hash[:12]}  base {v.base_version or '-':<4} {v.comment}"
        )
    print("activations:")
    for a in reversed(activations):
        was = f" (was {a.previous_version})" if a.previous_version else ""
        print(
            f"  {a.activated_at:%Y-%m-%d %H:%M:%S}Z  {a.action:<8} version {a.version}{was}  "
            f"{a.author}: {a.comment}"
        )
    return EXIT_OK


def _text_of(spec: str, store: RuleStore | None) -> tuple[str, str]:
    if spec.isdigit():
        assert store is not None
        return f"version {spec}", store.get(int(spec)).content
    return spec, split_base_marker(_read(spec))[1]


def _diff(args: argparse.Namespace) -> int:
    files_only = args.new is not None and not (args.old.isdigit() or args.new.isdigit())
    try:
        store = None if files_only else _open_store(args)
    except StoreError as exc:
        return _fail(str(exc))
    try:
        old_name, old = _text_of(args.old, store)
        if args.new is None:
            assert store is not None
            current = store.active()
            if current is None:
                return _fail("nothing is active; give two versions or files")
            new_name, new = old_name, old
            old_name, old = f"version {current.version} (active)", current.content
        else:
            new_name, new = _text_of(args.new, store)
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    finally:
        if store is not None:
            store.close()
    patch = unified_diff(old, new, old_name, new_name)
    print(patch if patch else f"{old_name} and {new_name} are identical", end="" if patch else "\n")
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    try:
        with _open_store(args) as store:
            activation = store.rollback(
                args.version,
                author=_author(args),
                comment=args.comment,
                geo=default_geo(),
                base_version=args.base,
            )
    except RuleSetInvalid as exc:
        return _print_invalid(exc)
    except ConflictError as exc:
        return _fail(conflict_message(exc), EXIT_CONFLICT)
    except StoreError as exc:
        return _fail(str(exc))
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
    try:
        with _open_store(args) as store:
            stored = _stored_or_active(store, args.version)
    except StoreError as exc:
        return _fail(str(exc))
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
    try:
        if args.what is not None and not args.what.isdigit():
            snapshot = load_snapshot(args.what, geo)
        else:
            with _open_store(args) as store:
                stored = _stored_or_active(store, int(args.what) if args.what else None)
                active = store.active_version()
            snapshot = snapshot_from_text(
                stored.content,
                geo,
                source=f"store:version {stored.version}",
                version=stored.version,
            )
            state = "active" if stored.version == active else "inactive"
            audit = [
                f"version {stored.version} ({state}), {stored.created_at:%Y-%m-%d %H:%M:%S}Z "
                f"by {stored.author}: {stored.comment}",
                f"content hash {stored.content_hash}, based on version "
                f"{stored.base_version or '-'}",
            ]
    except RuleSetInvalid as exc:
        return _print_invalid(exc)
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    print("\n".join([*audit, *describe_rules(snapshot.rules)]))
    return EXIT_OK


def describe_rules(rules: RuleSet) -> list[str]:
    """A readable summary of a rule set (``rules show``)."""
    host = rules.host
    numbers = ", ".join(f"{n.number} ({n.kind})" for n in host.numbers)
    lines = [
        f"host: {host.name.en} [{host.id}], {host.province}; numbers: {numbers}",
        f"  hours: schedule {host.schedule}; agents: {host.agents}; after hours: "
        f"{rules.after_hours.destination or 'message only'}",
        f"exchanges ({len(rules.exchanges)}): {', '.join(rules.exchanges)}",
        f"overlap: dominant at {rules.overlap_policy.dominance_share:.0%}, up to "
        f"{rules.overlap_policy.max_menu_options} menu options, unknown callers: "
        f"{rules.overlap_policy.unknown_caller}, no choice: {rules.overlap_policy.default_choice}",
        "municipalities:",
    ]
    for mun in rules.municipalities:
        model = (
            f", participation model {mun.participation_model}" if mun.participation_model else ""
        )
        dests = ", ".join(f"{d.id} {d.dial} [{d.schedule}]" for d in mun.destinations)
        lines.append(f"  {mun.id:<24} {mun.role:<9} {dests or HOST_AGENTS}{model}")
    lines.append("schedules:")
    for name, sched in rules.schedules.items():
        if sched.always_open:
            hours = "24/7"
        else:
            hours = "; ".join(
                f"{','.join(p.days)} {p.open:%H:%M}-{p.close:%H:%M}" for p in sched.weekly
            )
        extras = []
        if sched.holidays:
            extras.append(f"holidays {sched.holidays.country}-{sched.holidays.subdivision}")
        if sched.extra_closures:
            extras.append(f"{len(sched.extra_closures)} extra closure(s)")
        if sched.exceptions:
            extras.append(f"{len(sched.exceptions)} exceptional period(s)")
        override = sched.emergency_override
        if override is not None and override.active:
            extras.append(f"EMERGENCY OVERRIDE: {override.reason}")
        lines.append(f"  {name:<24} {sched.timezone}  {hours}  {'; '.join(extras)}".rstrip())
    if rules.arrangements:
        lines.append("arrangements:")
        for arr in rules.arrangements:
            until = arr.effective_until or "open-ended"
            lines.append(
                f"  {arr.id:<24} {arr.municipality} → {arr.route}, {arr.effective_from} to {until}"
            )
    return lines


# -- simulate --------------------------------------------------------------------------------


def _simulation_snapshot(args: argparse.Namespace) -> RuleSnapshot:
    geo = default_geo()
    if not args.store:
        return load_snapshot(args.rules, geo)
    with _open_store(args) as store:
        snapshot = store.load_snapshot(geo, args.version)
    if snapshot is None:
        raise StoreError("nothing is active in the database; apply a rule set or use --rules")
    return snapshot


def _simulate(args: argparse.Namespace) -> int:
    if (args.lat is None) != (args.lon is None):
        return _fail("give both --lat and --lon")
    if args.lat is not None and args.lon is not None:
        problem = coordinate_problem(args.lat, args.lon)
        if problem is not None:
            return _fail(f"--lat/--lon: {problem}", EXIT_INVALID)
    try:
        snapshot = _simulation_snapshot(args)
        at = parse_at(args.at, snapshot)
    except RuleSetInvalid as exc:
        return _print_invalid(exc)
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"--at: {exc}")
    sim = simulate_call(
        snapshot,
        calling=args.calling,
        at=at,
        dialled=args.dialled,
        location=(args.lat, args.lon) if args.lat is not None and args.lon is not None else None,
        language=args.language,
        greeting_key=args.greeting_key,
        presses=parse_presses(args.press),
    )
    if args.json:
        print(json.dumps(as_json(sim, snapshot), indent=2, ensure_ascii=False))
    else:
        print(render_text(sim, snapshot))
    return EXIT_OK
