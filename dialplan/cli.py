"""``ivr311 dialplan render``, ``ivr311 asterisk-conf render``, and the ``--dialplan FILE``
step of ``ivr311 rules apply`` and ``rules rollback``."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dialplan.apply import ReloadError, regenerate_dialplan, reload_dialplan
from dialplan.asterisk_conf import (
    TEMPLATES_DIR,
    AsteriskConfSettings,
    ConfError,
    ari_password,
    link_prompts,
    render_asterisk_conf,
)
from dialplan.names import FALLBACK_CONTEXT
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from routing_rules.schedules import check_evaluated_year
from routing_rules.snapshot import RuleSnapshot

EXIT_OK = 0
EXIT_REFUSED = 2
DIALPLAN_FILE_ENV = "IVR311_DIALPLAN_FILE"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dialplan = subparsers.add_parser("dialplan", help="the dialplan generated from the rules")
    dialplan_commands = dialplan.add_subparsers(dest="dialplan_command", required=True)
    render = dialplan_commands.add_parser(
        "render", help="write the Stasis entry and controller-free fallback dialplan"
    )
    _rules_options(render)
    render.add_argument("--out", default="-", help="file to write (default: standard output)")
    render.add_argument("--app", help="Stasis application name (default $IVR311_ARI_APP or ivr311)")
    render.add_argument(
        "--dial-endpoint",
        help="PJSIP trunk destinations use (default $IVR311_DIAL_ENDPOINT or contact-centres)",
    )
    render.add_argument(
        "--fallback-context",
        help="context the controller hands calls back to "
        f"(default $IVR311_FALLBACK_CONTEXT or {FALLBACK_CONTEXT})",
    )
    render.add_argument("--holiday-years", type=int, default=5, help="years of holidays")
    render.add_argument("--now", type=_instant, help="render as of this instant (ISO 8601)")
    render.add_argument(
        "--reload", action="store_true", help="then run `asterisk -rx 'dialplan reload'`"
    )
    render.add_argument(
        "--asterisk-conf", type=Path, help="asterisk.conf of the node to reload (asterisk -C)"
    )
    render.set_defaults(handler=_render_dialplan)

    conf = subparsers.add_parser("asterisk-conf", help="Asterisk configuration for ivr311")
    conf_commands = conf.add_subparsers(dest="conf_command", required=True)
    conf_render = conf_commands.add_parser(
        "render", help="write a complete minimal Asterisk configuration"
    )
    _rules_options(conf_render)
    conf_render.add_argument("--out", type=Path, required=True, help="output directory")
    conf_render.add_argument(
        "--ari-password-file",
        type=Path,
        help="file holding the ARI password (default: $IVR311_ARI_PASSWORD)",
    )
    conf_render.add_argument("--templates", type=Path, default=TEMPLATES_DIR)
    conf_render.add_argument(
        "--link-prompts",
        action="store_true",
        help="link <data-dir>/sounds/<lang>/ivr311 to the shipped prompts",
    )
    for name, info in AsteriskConfSettings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        help_text = (info.description or name.replace("_", " ")) + f" (default {info.default})"
        conf_render.add_argument(flag, dest=f"setting_{name}", metavar=name.upper(), help=help_text)
    conf_render.set_defaults(handler=_render_conf)


def _rules_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", help="rule-set file or demo name (default: the store's active version)"
    )
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL of the rule store (default $IVR311_DATABASE_URL, else the "
        "per-user store, $XDG_STATE_HOME/ivr311/rules.db)",
    )


def _instant(value: str) -> datetime:
    """``--now``: an ISO 8601 time in the years schedules are evaluated in."""
    try:
        return check_evaluated_year(datetime.fromisoformat(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: {exc}") from None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_REFUSED


def _snapshot(args: argparse.Namespace) -> RuleSnapshot:
    from routing_rules.snapshot import load_snapshot

    if args.rules:
        return load_snapshot(args.rules)
    return _active_snapshot(args.database)


def _active_snapshot(database: str | None) -> RuleSnapshot:
    from routing_rules.snapshot import default_geo
    from routing_rules.storage.errors import StoreError
    from routing_rules.storage.location import database_url
    from routing_rules.storage.store import RuleStore

    try:
        store = RuleStore.open(database_url(database), create=False)
    except StoreError as exc:
        raise ConfError(f"{exc}; or pass --rules") from exc
    try:
        snapshot = store.load_snapshot(default_geo())
    finally:
        store.close()
    if snapshot is None:
        raise ConfError(
            "no active rule version in the store: `ivr311 rules apply` one, or pass --rules"
        )
    return snapshot


def _render_dialplan(args: argparse.Namespace) -> int:
    configured = DialplanOptions.from_environment()
    options = DialplanOptions(
        app=args.app or configured.app,
        dial_endpoint=args.dial_endpoint or configured.dial_endpoint,
        fallback_context=args.fallback_context or configured.fallback_context,
        state_variable=configured.state_variable,
        holiday_years=args.holiday_years,
        now=args.now,
    )
    try:
        snapshot = _snapshot(args)
        if args.out == "-":
            sys.stdout.write(render_dialplan(snapshot, options))
            if args.reload:
                print(reload_dialplan(args.asterisk_conf))
        else:
            regenerate_dialplan(
                snapshot,
                Path(args.out),
                options,
                reload=args.reload,
                asterisk_conf=args.asterisk_conf,
            )
            print(f"wrote {args.out}", file=sys.stderr)
    except (ConfError, OSError, ReloadError) as exc:
        return _fail(str(exc))
    return EXIT_OK


def _render_conf(args: argparse.Namespace) -> int:
    given: dict[str, Any] = {
        name.removeprefix("setting_"): value
        for name, value in vars(args).items()
        if name.startswith("setting_") and value is not None
    }
    try:
        settings = AsteriskConfSettings(**given)
        password = ari_password(args.ari_password_file)
        rendered = render_asterisk_conf(
            _snapshot(args), settings, args.out, password=password, templates_dir=args.templates
        )
        if args.link_prompts:
            link_prompts(settings.data_dir)
    except ValidationError as exc:
        return _fail(str(exc))
    except (ConfError, OSError) as exc:
        return _fail(str(exc))
    for path in rendered.files:
        print(path)
    conf = rendered.out_dir.resolve() / "asterisk.conf"
    print(f"start Asterisk with: asterisk -C {conf}", file=sys.stderr)
    return EXIT_OK


class DialplanAfterActivation:
    """``--dialplan FILE`` for ``ivr311 rules apply`` and ``rules rollback``: once a version is
    active, regenerate the dialplan from it and run ``dialplan reload``.

    For sites where no controller runs; a controller with IVR311_DIALPLAN_FILE does this by
    itself for every version that becomes active. The Stasis application, the trunk and the
    fallback context come from IVR311_ARI_APP, IVR311_DIAL_ENDPOINT and IVR311_FALLBACK_CONTEXT,
    as for the controller.
    """

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dialplan",
            type=Path,
            metavar="FILE",
            help="then regenerate this dialplan file from the active version and reload it "
            f"(default ${DIALPLAN_FILE_ENV})",
        )
        parser.add_argument(
            "--reload",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="with --dialplan: run `asterisk -rx 'dialplan reload'` (default: yes)",
        )
        parser.add_argument(
            "--asterisk-conf", type=Path, help="asterisk.conf of the node to reload (asterisk -C)"
        )

    def run(self, args: argparse.Namespace) -> str | None:
        path: Path | None = args.dialplan
        if path is None and os.environ.get(DIALPLAN_FILE_ENV, "").strip():
            path = Path(os.environ[DIALPLAN_FILE_ENV])
        if path is None:
            return None
        options = DialplanOptions.from_environment()
        try:
            snapshot = _active_snapshot(args.database)
            regenerate_dialplan(
                snapshot, path, options, reload=args.reload, asterisk_conf=args.asterisk_conf
            )
        except ReloadError as exc:
            return (
                f"the dialplan {path} is written but Asterisk did not reload it: {exc} "
                "(run `asterisk -rx 'dialplan reload'` once Asterisk is reachable)"
            )
        except (ConfError, OSError) as exc:
            return f"the dialplan could not be written to {path}: {exc}"
        reloaded = "; Asterisk reloaded it" if args.reload else " (not reloaded: --no-reload)"
        print(f"dialplan of version {snapshot.version} written to {path}{reloaded}")
        return None
