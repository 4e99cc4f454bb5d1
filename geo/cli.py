"""``ivr311 geo coverage|locate|number``: the geodata as an operator sees it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geo.coordinates import coordinate_problem
from geo.coverage import coverage_csv, coverage_json, coverage_text
from geo.errors import GeoDataError
from geo.index import GeoIndex, load_geo_index
from geo.overlap import DEFAULT_SLIVER_KM2, DEFAULT_SLIVER_SHARE, SliverThresholds
from geo.sources import GeoSources


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    default = GeoSources()
    parser.add_argument(
        "--municipalities",
        type=Path,
        default=default.municipalities,
        help="municipal polygons, GeoJSON with id, name, priority",
    )
    parser.add_argument(
        "--exchanges",
        type=Path,
        default=default.exchanges,
        help="exchange polygons, GeoJSON with id, name (and province)",
    )
    parser.add_argument(
        "--co-codes", type=Path, default=default.co_codes, help="CNAC CO code status CSV"
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="repair invalid polygons (make_valid) instead of refusing them",
    )
    parser.add_argument(
        "--sliver-km2",
        type=float,
        default=DEFAULT_SLIVER_KM2,
        help="overlaps smaller than this many km² are ignored (default 0.05)",
    )
    parser.add_argument(
        "--sliver-share",
        type=float,
        default=DEFAULT_SLIVER_SHARE,
        help="overlaps below this share of the exchange are ignored (default 0.005 = 0.5%%)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="index cache directory (default $IVR311_CACHE_DIR or ~/.cache/ivr311)",
    )


def _load(args: argparse.Namespace) -> GeoIndex | None:
    try:
        return load_geo_index(
            GeoSources(args.municipalities, args.exchanges, args.co_codes),
            cache_dir=args.cache_dir,
            thresholds=SliverThresholds(args.sliver_km2, args.sliver_share),
            repair=args.repair,
        )
    except GeoDataError as exc:
        print("\n".join(exc.report_lines()), file=sys.stderr)
        return None


def _coverage(args: argparse.Namespace) -> int:
    if args.map is not None:
        from geo.map import map_path_problem

        problem = map_path_problem(args.map)
        if problem is not None:
            print(f"error: --map {problem}", file=sys.stderr)
            return 2
    index = _load(args)
    if index is None:
        return 2
    rows = index.exchanges.values()
    if args.format == "json":
        print(coverage_json(rows, index.warnings))
    elif args.format == "csv":
        sys.stdout.write(coverage_csv(rows))
    else:
        sys.stdout.write(coverage_text(rows, index.municipalities, index.warnings))
    if args.map is not None:
        from geo.map import render_map

        render_map(index, GeoSources(args.municipalities, args.exchanges, args.co_codes), args.map)
        print(f"map written to {args.map}", file=sys.stderr)
    return 0


def _locate(args: argparse.Namespace) -> int:
    problem = coordinate_problem(args.lat, args.lon)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    index = _load(args)
    if index is None:
        return 2
    found = index.locate(args.lat, args.lon)
    if args.json:
        print(json.dumps({"municipality": found}))
    elif found is None:
        print("outside every municipality")
    else:
        print(f"{found}\t{index.municipalities[found].name}")
    return 0


def _number(args: argparse.Namespace) -> int:
    index = _load(args)
    if index is None:
        return 2
    placement = index.place_number(args.number)
    exchange = placement.exchange
    if args.json:
        print(
            json.dumps(
                {
                    "npa_nxx": placement.npa_nxx,
                    "exchange": exchange.exchange if exchange else None,
                    "name": exchange.name if exchange else None,
                    "classification": exchange.classification if exchange else None,
                    "municipalities": [
                        {"id": m.id, "km2": round(m.km2, 3), "share": round(m.share, 4)}
                        for m in (exchange.municipalities if exchange else ())
                    ],
                    "failure": str(placement.failure) if placement.failure else None,
                    "detail": placement.detail,
                }
            )
        )
        return 0 if exchange else 1
    if exchange is None:
        print(f"cannot place: {placement.failure} — {placement.detail}")
        return 1
    print(
        f"NPA-NXX {placement.npa_nxx}: exchange {exchange.name} ({exchange.exchange}), "
        f"{exchange.classification}"
    )
    for m in exchange.municipalities:
        name = index.municipalities[m.id].name
        print(f"  {m.id:<24} {name:<40} {m.share * 100:5.1f}%  {m.km2:8.1f} km²")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    geo = subparsers.add_parser(
        "geo", help="exchange/municipality coverage, point and number lookup"
    )
    commands = geo.add_subparsers(dest="geo_command", metavar="GEO_COMMAND", required=True)

    coverage = commands.add_parser("coverage", help="the exchange coverage table (and a map)")
    coverage.add_argument("--format", choices=["text", "csv", "json"], default="text")
    coverage.add_argument(
        "--map", type=Path, metavar="FILE.svg|.png", help="also draw the coverage map to this file"
    )
    _add_data_options(coverage)
    coverage.set_defaults(handler=_coverage)

    locate = commands.add_parser("locate", help="the municipality at a latitude/longitude")
    locate.add_argument("lat", type=float, metavar="LAT")
    locate.add_argument("lon", type=float, metavar="LON")
    locate.add_argument("--json", action="store_true")
    _add_data_options(locate)
    locate.set_defaults(handler=_locate)

    number = commands.add_parser("number", help="the exchange and municipalities of a number")
    number.add_argument("number", metavar="NUMBER")
    number.add_argument("--json", action="store_true")
    _add_data_options(number)
    number.set_defaults(handler=_number)
