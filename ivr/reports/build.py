"""One report from a store: query, figures, the chosen format."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from ivr.reports import render_csv, render_html, render_json, render_text
from ivr.reports.figures import DEFAULT_THRESHOLDS_S, Report, compute
from ivr.reports.period import ReportRange
from ivr.reports.query import fetch

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text.render,
    "csv": render_csv.render,
    "json": render_json.render,
    "html": render_html.render,
}
FORMATS = tuple(RENDERERS)
MEDIA_TYPES = {  # a format's Content-Type on the admin API
    "text": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}


def build_report(
    engine: Engine, period: ReportRange, thresholds_s: Sequence[float] = DEFAULT_THRESHOLDS_S
) -> Report:
    """The report of ``period`` over the call records of ``engine``'s database (blocking)."""
    return compute(fetch(engine, period, thresholds_s), period)


def render(report: Report, fmt: str) -> str:
    return RENDERERS[fmt](report)
