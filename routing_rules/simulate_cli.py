"""``ivr311 simulate``: the decision trace of one call through the rules, without a phone."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from pydantic import HttpUrl, ValidationError

from geo.coordinates import coordinate_problem
from routing_rules.cli import database_option, open_store
from routing_rules.cli_output import EXIT_INVALID, EXIT_OK, fail
from routing_rules.decision import CheckStatus, PlayGreeting, StatusResult
from routing_rules.schema import Open311
from routing_rules.simulate import (
    Simulation,
    as_json,
    parse_at,
    parse_presses,
    render_text,
    simulate_call,
)
from routing_rules.snapshot import RuleSnapshot, default_geo, load_snapshot
from routing_rules.storage.errors import StoreError

LookUpStatus = Callable[[Open311, str], StatusResult]
"""``(service, request_id)``: ask the server for a request's status (the controller's client)."""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    look_up_status: LookUpStatus | None = None,
) -> None:
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
    simulate.add_argument(
        "--request",
        help="check the status of this service-request number (presses the status key)",
    )
    simulate.add_argument(
        "--status-server",
        help="with --request: the Open311 GeoReport v2 base URL to ask instead of the rules'",
    )
    simulate.add_argument(
        "--status",
        choices=[str(r) for r in StatusResult],
        help="with --request and no server to ask: how the look-up ended",
    )
    simulate.add_argument("--json", action="store_true", help="JSON outcome and trace")
    simulate.set_defaults(handler=_simulate, look_up_status=look_up_status)


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

    def run(greeting_key: str | None, status: StatusResult | None = None) -> Simulation:
        return simulate_call(
            snapshot,
            calling=args.calling,
            at=at,
            dialled=args.dialled,
            location=(args.lat, args.lon)
            if args.lat is not None and args.lon is not None
            else None,
            language=args.language,
            greeting_key=greeting_key,
            presses=parse_presses(args.press),
            status=status,
        )

    sim = run(args.greeting_key)
    if args.request is not None:
        offer = sim.greeting.step
        if not isinstance(offer, PlayGreeting) or offer.status_key is None:
            return fail("--request: these rules offer this caller no status check", EXIT_INVALID)
        sim = run(offer.status_key)
        asked = sim.decision.step
        if isinstance(asked, CheckStatus):  # else the status menu waits for --press
            try:
                status = _status(args, asked)
            except (ValueError, ValidationError) as exc:
                return fail(str(exc), EXIT_INVALID)
            sim = run(offer.status_key, status)
    if args.json:
        print(json.dumps(as_json(sim, snapshot), indent=2, ensure_ascii=False))
    else:
        print(render_text(sim, snapshot))
    return EXIT_OK


def _status(args: argparse.Namespace, asked: CheckStatus) -> StatusResult:
    """How the status check of ``--request`` ends: as ``--status`` says, or as the server
    (``--status-server``, else the rules') answers."""
    request_id = args.request
    if not request_id.isdigit() or len(request_id) > asked.max_digits:
        raise ValueError(f"--request: up to {asked.max_digits} digits")
    if asked.service is None:
        return StatusResult.NO_CHOICE
    if args.status is not None:
        return StatusResult(args.status)
    if args.look_up_status is None:
        raise ValueError("--request: give --status (no Open311 client here)")
    service = asked.service
    if args.status_server is not None:
        service = service.model_copy(update={"base_url": HttpUrl(args.status_server)})
    result: StatusResult = args.look_up_status(service, request_id)
    return result
