"""``ivr311 kamailio-conf render``: Kamailio's configuration for several nodes.

Flags override the ``IVR311_KAMAILIO_*`` settings; a wrong value is refused in one line naming
the flag and the value, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dialplan.kamailio_conf import (
    FLAGS,
    KamailioConfError,
    KamailioConfSettings,
    render_kamailio_conf,
)
from routing_rules.cli_output import EXIT_INVALID, EXIT_OK, fail

_REPEATED = {"nodes", "carriers"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conf = subparsers.add_parser(
        "kamailio-conf", help="Kamailio configuration for several nodes behind one proxy"
    )
    commands = conf.add_subparsers(dest="kamailio_command", required=True)
    render = commands.add_parser(
        "render",
        help="write kamailio.cfg and dispatcher.list",
        description="Write kamailio.cfg and dispatcher.list. Every flag has a setting "
        "IVR311_KAMAILIO_<NAME> (lists comma-separated); flags win.",
    )
    render.add_argument("--out", type=Path, required=True, help="output directory")
    for name, info in KamailioConfSettings.model_fields.items():
        env = f"IVR311_KAMAILIO_{name.upper()}"
        default = "" if info.is_required() else f", default {info.default}"
        if name in _REPEATED:
            render.add_argument(
                FLAGS[name],
                dest=f"setting_{name}",
                action="append",
                metavar="ADDRESS:PORT" if name == "nodes" else "ADDRESS",
                help=f"{info.description}; repeat for each (${env}, comma-separated)",
            )
        else:
            render.add_argument(
                FLAGS[name],
                dest=f"setting_{name}",
                metavar=name.upper(),
                help=f"{info.description} (${env}{default})",
            )
    render.set_defaults(handler=_render)


def problem(exc: ValidationError) -> str:
    """The errors of the settings in one line, each naming its flag (and the value given)."""
    parts = []
    for error in exc.errors():
        loc = error.get("loc", ())
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if not loc:
            parts.append(message)
            continue
        name = str(loc[0])
        flag = FLAGS.get(name, name)
        if error.get("type") == "missing":
            message = f"required (or IVR311_KAMAILIO_{name.upper()})"
        elif len(loc) > 1 or "'" not in message:
            message = f"{error.get('input')!r}: {message}"
        parts.append(f"{flag}: {message}")
    return "; ".join(parts)


def _render(args: argparse.Namespace) -> int:
    given: dict[str, Any] = {
        name.removeprefix("setting_"): value
        for name, value in vars(args).items()
        if name.startswith("setting_") and value is not None
    }
    try:
        settings = KamailioConfSettings(**given)
        rendered = render_kamailio_conf(settings, args.out)
    except ValidationError as exc:
        return fail(problem(exc), EXIT_INVALID)
    except KamailioConfError as exc:
        return fail(str(exc), EXIT_INVALID)
    except OSError as exc:
        return fail(f"{args.out}: {exc.strerror or exc}", EXIT_INVALID)
    for path in rendered.files:
        print(path)
    print(f"start Kamailio with: kamailio -f {rendered.config.resolve()}", file=sys.stderr)
    return EXIT_OK
