"""The report as JSON: the document `report.schema.json` describes (``schema`` names it).

The overlap table comes first, as in every format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivr.reports.figures import Report

SCHEMA_PATH = Path(__file__).resolve().parent / "report.schema.json"
SCHEMA_ID = "https://ivr311.example/schemas/report.schema.json"


def document(report: Report) -> dict[str, Any]:
    period = report.range
    return {
        "schema": SCHEMA_ID,
        "overlap": [
            {
                "exchange": row.exchange,
                "offered": row.offered,
                "choices": [
                    {"municipality": c.municipality, "calls": c.calls} for c in row.choices
                ],
                "no_choice": row.no_choice,
            }
            for row in report.overlap
        ],
        "range": {"from": period.start.isoformat(), "to": period.end.isoformat(), "by": period.by},
        "calls_offered": {
            "total": report.total,
            "by_number_kind": report.by_number_kind,
            "by_period": [{"period": name, "calls": n} for name, n in report.by_period],
            "by_hour": list(report.by_hour),
            "by_weekday": list(report.by_weekday),
        },
        "after_hours": report.after_hours,
        "greeting_skipped": report.greeting_skipped,
        "zero_outs": {"total": report.zero_outs_total, "by_stage": report.zero_outs},
        "language": report.language,
        "evidence": report.evidence,
        "outcomes": report.outcomes,
        "transfers": [
            {"destination": row.destination, "attempts": row.attempts, "results": row.results}
            for row in report.transfers
        ],
        "abandoned": {"total": report.abandoned_total, "by_stage": report.abandoned},
        "answer_to_person": {
            "put_through": report.put_through,
            "reached_person": report.reached_person,
            "p50_s": report.p50_s,
            "p90_s": report.p90_s,
        },
        "service_level": [
            {"threshold_s": s.threshold_s, "within": s.within, "share": s.share}
            for s in report.service_level
        ],
        "status_checks": {
            "total": report.status_checks_total,
            "by_result": report.status_checks,
            "contained": report.status_contained,
        },
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded
