"""The report as one self-contained HTML file a clerk can attach to a council report: the
tables and the charts (inline SVG), its style inline, nothing loaded from anywhere, no script.
The overlap table and its chart come first."""

from __future__ import annotations

from html import escape

from ivr.reports import charts
from ivr.reports.figures import Report
from ivr.reports.tables import Cell, Table, tables

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)
"""What the file needs, and no more: its own inline style; no script, no request anywhere."""

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2733; margin: 2rem auto; max-width: 60rem;
  padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #d5dde5; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
.lead { border-left: 4px solid #1f6feb; padding-left: 1rem; }
"""


def _cell(value: Cell) -> str:
    numeric = isinstance(value, (int, float)) or (isinstance(value, str) and value.endswith("%"))
    text = "" if value is None else str(value)
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join(f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in table.rows)
    if not table.rows:
        body = f'<tr><td colspan="{len(table.header)}">none in this range</td></tr>'
    return (
        f'<section id="{table.key}"><h2>{escape(table.title)}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
    )


def _figure(key: str, svg: str) -> str:
    return f'<figure id="chart-{key}">{svg}</figure>'


def render(report: Report) -> str:
    period = report.range
    title = f"ivr311 call report, {period.start} to {period.end}"
    report_tables = tables(report)
    charts_after = {
        "overlap": _figure("overlap", charts.exchange_choices(report)),
        "period": _figure("period", charts.calls_per_period(report)),
        "hour": _figure("hour", charts.hour_profile(report)),
        "weekday": _figure("weekday", charts.weekday_profile(report)),
        "service": _figure("service", charts.service_level(report)),
    }
    body = []
    for table in report_tables:
        html = _table(table)
        if table.key == "overlap":
            html = f'<div class="lead">{html}{charts_after["overlap"]}</div>'
        elif table.key in charts_after:
            html += charts_after[table.key]
        body.append(html)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{report.total} calls offered; dates are the host's local dates, both included.</p>"
        f"{''.join(body)}</body></html>\n"
    )
