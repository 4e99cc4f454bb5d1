"""Report benchmark: ``ivr311 report`` over a year of a large region, a million stored calls.

``CALLS`` call records (and their transfer attempts, 1.2 a call on average) spread over 2026
are bulk-loaded into a fresh store (SQLite's ``executemany``, PostgreSQL's ``COPY``), the
report's summary filled from them as migration 0004 fills it for the calls a store already
holds, and the statistics refreshed (``ANALYZE``, as a live database keeps them); then the
year's report is built (the queries and the figures) and rendered, each timed on its own:

* ``summary_fill_s`` — filling the summary from the rows (what the migration costs a store of
  that many calls, once);
* ``report_s`` — `ivr.reports.build_report` for the whole year, by month: what every format
  waits for (the first report after loading); ``report_again_s``, the best of `REPEATS` more;
* ``json_s``, ``html_s`` — rendering it (HTML draws the charts).

SQLite always; PostgreSQL too when the server ``IVR311_TEST_POSTGRES_URL`` names answers, in a
schema of its own dropped afterwards. ``run()`` returns the report's ``report`` section.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from benchmarks.records_bench import _postgres_url
from ivr.reports import build_report, render
from ivr.reports.period import ReportRange
from routing_rules.storage.report_recount import refill
from routing_rules.storage.store import RuleStore

CALLS = int(os.environ.get("IVR311_BENCH_REPORT_CALLS", 1_000_000))
REPEATS = 3
YEAR = ReportRange(date(2026, 1, 1), date(2026, 12, 31), "month")
ZONE = ZoneInfo("America/Toronto")
COLUMNS = (
    "id, call_id, started_at, local_date, local_hour, local_weekday, dialled, number_kind, "
    "caller_npa_nxx, caller_hash, caller_failure, language, greeting_skipped, zero_out, "
    "after_hours, menu, evidence, rule, route_kind, municipality, destination, digits, outcome, "
    "abandoned_in, answer_to_person_s, total_s, bridged_s, attempts, rules_version, rules_hash"
)
ATTEMPT_COLUMNS = "record_id, seq, started_at, destination, result, ring_s"
MENUS = (None, None, None, "exchange:oshawa", "exchange:port-perry")
CHOICES = ("oshawa", "clarington", "whitby", "scugog", "kawartha-lakes")
DESTINATIONS = ("durham-agents", "oshawa-311", "clarington-311", "whitby-311", "after-hours")
RESULTS = ("answered", "answered", "answered", "busy", "no_answer", "not_accepted")
EVIDENCE = ("location", "exchange", "exchange", "exchange", "caller_choice", "default")
OUTCOMES = ("completed", "completed", "completed", "caller_hangup", "message")


def _rows(count: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Each call's row and its attempts' rows (Python values), seeded, in the order of their
    start (as the controllers write them)."""
    rng = random.Random(2026)
    start = datetime(2026, 1, 1, tzinfo=ZONE).astimezone(UTC)
    gap_s = 365 * 86_400 / count
    for n in range(1, count + 1):
        at = start + timedelta(seconds=(n - 1 + rng.random()) * gap_s)
        local = at.astimezone(ZONE)
        menu = rng.choice(MENUS)
        tries = rng.choice((0, 1, 1, 1, 1, 2))
        attempts = [
            (n, seq, at, rng.choice(DESTINATIONS), rng.choice(RESULTS), rng.random() * 20)
            for seq in range(tries)
        ]
        reached = any(a[4] == "answered" for a in attempts)
        yield (
            (
                n, f"bench-{n}", at, local.date(), local.hour, local.weekday(), "311",
                rng.choice(("311", "311", "ten-digit", "toll-free")), "905555",
                "0123456789abcdef", None, rng.choice(("en", "en", "en", "fr")),
                rng.random() < 0.4, rng.choice((None, None, None, "greeting", "menu")),
                rng.random() < 0.1, menu, rng.choice(EVIDENCE), "rules.x", "municipality",
                rng.choice(CHOICES), attempts[0][3] if attempts else None, "2",
                rng.choice(OUTCOMES), None if reached else rng.choice((None, "menu", "hold")),
                rng.random() * 90 if reached else None, 120.0, 60.0 if reached else None,
                tries, 1, "0123456789ab",
            ),
            attempts,
        )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it in SQLite: text times and dates, 0/1 booleans."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _load_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    calls, attempts = [], []
    for call, tries in _rows(CALLS):
        calls.append(tuple(_sqlite_value(v) for v in call))
        attempts.extend(tuple(_sqlite_value(v) for v in a) for a in tries)
    marks = ", ".join("?" * len(calls[0]))
    with conn:
        conn.executemany(f"INSERT INTO call_records ({COLUMNS}) VALUES ({marks})", calls)
        conn.executemany(
            f"INSERT INTO call_record_attempts ({ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            attempts,
        )
    conn.close()


def _load_postgres(store: RuleStore) -> None:
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        tries_all = []
        with cursor.copy(f"COPY call_records ({COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for call, tries in _rows(CALLS):
                copy.write_row(call)
                tries_all.extend(tries)
        with cursor.copy(f"COPY call_record_attempts ({ATTEMPT_COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for attempt in tries_all:
                copy.write_row(attempt)
        raw.commit()
    finally:
        raw.close()


def _fill_summary(store: RuleStore) -> float:
    """Fill the summary from the loaded rows, then refresh the statistics; returns the fill's
    seconds."""
    started = time.perf_counter()
    with store.write_transaction() as conn:
        refill(conn)
    fill_s = time.perf_counter() - started
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return fill_s


def _measure(store: RuleStore, load_s: float) -> dict[str, Any]:
    fill_s = _fill_summary(store)
    started = time.perf_counter()
    report = build_report(store.engine, YEAR)
    report_s = time.perf_counter() - started
    again_s = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        build_report(store.engine, YEAR)
        again_s = min(again_s, time.perf_counter() - started)
    if report.total != CALLS:
        raise RuntimeError(f"the report counted {report.total} calls of {CALLS}")
    timings = {}
    for fmt in ("json", "html"):
        started = time.perf_counter()
        render(report, fmt)
        timings[f"{fmt}_s"] = round(time.perf_counter() - started, 3)
    return {
        "calls": CALLS,
        "load_s": round(load_s, 1),
        "summary_fill_s": round(fill_s, 1),
        "report_s": round(report_s, 3),
        "report_again_s": round(again_s, 3),
        **timings,
    }


def _on_sqlite() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.db"
        store = RuleStore.open(f"sqlite:///{path}")
        try:
            started = time.perf_counter()
            _load_sqlite(path)
            return _measure(store, time.perf_counter() - started)
        finally:
            store.close()


def _on_postgres(url: str) -> dict[str, Any]:
    store = RuleStore.open(url)
    try:
        started = time.perf_counter()
        _load_postgres(store)
        return _measure(store, time.perf_counter() - started)
    finally:
        store.close()


def run() -> dict[str, object]:
    section: dict[str, object] = {"sqlite": _on_sqlite()}
    with _postgres_url() as url:
        section["postgresql"] = _on_postgres(url) if url else {"skipped": "not reachable"}
    return {"report": section}
