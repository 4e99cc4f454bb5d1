"""``ivr311 simulate``: the decision trace of one call through the rules, without a phone."""

from __future__ import annotations

import argparse
import json

from geo.coordinates import coordinate_problem
from routing_rules.cli import database_option, open_store
from routing_rules.cli_output import EXIT_INVALID, EXIT_OK, fail
from routing_rules.simulate import as_json, parse_at, parse_presses, render_text, simulate_call
from routing_rules.snapshot import RuleSnapshot, default_geo, load_snapshot
from routing_rules.storage.store import StoreError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    database_option(simulate)
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


def _simulation_snapshot(args: argparse.Namespace) -> RuleSnapshot:
    geo = default_geo()
    if not args.store:
        return load_snapshot(args.rules, geo)
    with open_store(args) as store:
        snapshot = store.load_snapshot(geo, args.version)
    if snapshot is None:
        raise StoreError("nothing is active in the database; apply a rule set or use --rules")
    return snapshot


def _simulate(args: argparse.Namespace) -> int:
    if (args.lat is None) != (args.lon is None):
        return fail("give both --lat and --lon")
    if args.lat is not None and args.lon is not None:
        problem = coordinate_problem(args.lat, args.lon)
        if problem is not None:
            return fail(f"--lat/--lon: {problem}", EXIT_INVALID)
    snapshot = _simulation_snapshot(args)
    try:
        at = parse_at(args.at, snapshot)
    except ValueError as exc:
        return fail(f"--at {args.at!r}: {exc}", EXIT_INVALID)
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
