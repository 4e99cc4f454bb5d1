"""``python -m benchmarks``: run every ``benchmarks/*_bench.py`` and write one JSON report.

Each module's ``run() -> dict[str, object]`` returns nested measurements; the report nests
them under the module's name (``geo``, ``controller``, ...), so a key such as
``geo.point_lookup.index.p99_ns`` says what it measures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ivr.logs import configure_logging

HERE = Path(__file__).resolve().parent


def _modules(only: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("*_bench.py"))
    if only:
        names = [n for n in names if n.removesuffix("_bench") in only or n in only]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-report.json"),
        help="where to write the JSON report (default bench-report.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark (e.g. geo); may be repeated",
    )
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")  # logs to stderr; stdout carries only the report
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
    for name in _modules(args.only):
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = module.run()
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
        report[name.removesuffix("_bench")] = result
    text = json.dumps(report, indent=2)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
