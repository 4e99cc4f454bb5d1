"""``ivr311 report``: KPIs over the stored call records, as text, CSV, JSON or HTML.

A bad date, range, period or threshold is one line naming the option, exit 2; a store that
cannot be opened is worded by the ``ivr311`` command's error boundary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr.reports.build import FORMATS, build_report, render
from ivr.reports.figures import DEFAULT_THRESHOLDS_S
from ivr.reports.period import PERIODS, ReportRange, ReportRangeError, parse_thresholds
from routing_rules.cli import database_option, open_store
from routing_rules.cli_output import EXIT_INVALID, EXIT_OK, fail

FLAGS = ("--from", "--to", "--by")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = subparsers.add_parser(
        "report",
        help="call records as KPIs (text, CSV, JSON, self-contained HTML)",
        description="Calls offered, after hours, greeting skips, 0-outs, language, routing "
        "evidence, transfers per destination, abandonment, time to a person and service "
        "level, and first the shared exchanges' choices, over a range of the host's local "
        "dates (both included).",
    )
    report.add_argument("--from", dest="date_from", metavar="DATE", help="first date, YYYY-MM-DD")
    report.add_argument("--to", dest="date_to", metavar="DATE", help="last date, YYYY-MM-DD")
    report.add_argument(
        "--by", metavar="|".join(PERIODS), help="calls per day (default), week or month"
    )
    report.add_argument("--format", choices=FORMATS, default="text", help="default text")
    report.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    report.add_argument(
        "--service-level",
        metavar="SECONDS",
        default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS_S),
        help="thresholds of the service level, comma-separated (default 20,30)",
    )
    database_option(report)
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    try:
        period = ReportRange.parse(args.date_from, args.date_to, args.by, names=FLAGS)
        levels = parse_thresholds(args.service_level, "--service-level")
    except ReportRangeError as exc:
        return fail(str(exc), EXIT_INVALID)
    with open_store(args) as store:
        report = build_report(store.engine, period, levels)
    text = render(report, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return EXIT_OK
