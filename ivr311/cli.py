"""The ``ivr311`` command: one entry point whose sub-commands each package registers.

This is the composition root: the only place that knows every package, so that the product
(``ivr``) never imports the simulated switch (``switchsim``) it runs on without an Asterisk.
Nothing imports this module but the console script and the tests of the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from dialplan import cli as dialplan_cli
from dialplan import kamailio_cli
from geo import cli as geo_cli
from ivr.agi import fastagi_command
from ivr.controller import drain_cli
from ivr.controller import run as controller_run
from ivr.logs import configure_logging
from ivr.open311.lookups import look_up_status
from ivr.reports import cli as reports_cli
from ivr311.boundary import run_guarded
from routing_rules import cli as rules_cli
from routing_rules import simulate_cli
from switchsim import commands as switchsim_commands

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ivr311",
        description="311 call routing for Asterisk.",
    )
    parser.add_argument(
        "--log-format", choices=["json", "console"], help="log format (default: console on a tty)"
    )
    parser.add_argument("--log-level", help="log level (default INFO)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    geo_cli.register(commands)
    rules_cli.register(commands, after_activation=dialplan_cli.DialplanAfterActivation())
    simulate_cli.register(commands, look_up_status=look_up_status)
    dialplan_cli.register(commands)
    kamailio_cli.register(commands)
    controller_run.register(commands, simulated=switchsim_commands.scripted_switch)
    drain_cli.register(commands)
    switchsim_commands.register(commands)
    fastagi_command.register(commands)
    reports_cli.register(commands)
    return parser


def chosen_log_level(args: argparse.Namespace) -> str | None:
    """``--log-level``, else IVR311_LOG_LEVEL, else the command's own default (None: INFO)."""
    level: str | None = (
        args.log_level
        or os.environ.get("IVR311_LOG_LEVEL")
        or getattr(args, "default_log_level", None)
    )
    return level


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    command = " ".join(
        str(part) for part in (args.command, getattr(args, "rules_command", None)) if part
    )

    def run() -> int:
        try:
            configure_logging(args.log_format, chosen_log_level(args))
        except ValueError as exc:
            parser.error(str(exc))
        return handler(args)

    return run_guarded(command, run)


if __name__ == "__main__":
    sys.exit(main())
