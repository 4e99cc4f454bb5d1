"""The HTML report's charts, drawn with matplotlib (Agg, no pyplot: safe in a worker thread)
and returned as inline SVG whose text stays text."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ivr.reports.figures import Report
from ivr.reports.tables import WEEKDAYS

matplotlib.use("Agg")

INK = "#1d2733"
BLUE = "#1f6feb"
NO_METADATA: dict[str, str | None] = {"Creator": None, "Date": None, "Format": None, "Type": None}
"""No creation date or tool links in the file: the same figures draw the same bytes."""
PALETTE = ("#1f6feb", "#e36209", "#2da44e", "#8250df", "#bf3989", "#0a7ea4", "#9a6700", "#57606a")


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ivr311"}):
        fig.savefig(out, format="svg", bbox_inches="tight", metadata=NO_METADATA)
    text = out.getvalue()
    return text[text.index("<svg") :]


def _figure(title: str, height: float = 2.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(7.5, height))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11, color=INK)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def calls_per_period(report: Report) -> str:
    fig, ax = _figure(f"Calls per {report.range.by}")
    names = [name for name, _ in report.by_period]
    ax.bar(range(len(names)), [n for _, n in report.by_period], color=BLUE)
    step = max(1, len(names) // 12)
    ax.set_xticks(range(0, len(names), step), names[::step], rotation=45, ha="right", fontsize=8)
    return _svg(fig)


def hour_profile(report: Report) -> str:
    fig, ax = _figure("Calls by hour of day (host's time)")
    ax.bar(range(24), report.by_hour, color=BLUE)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("hour")
    return _svg(fig)


def weekday_profile(report: Report) -> str:
    fig, ax = _figure("Calls by day of week", 2.2)
    ax.bar(WEEKDAYS, report.by_weekday, color=BLUE)
    return _svg(fig)


def service_level(report: Report) -> str:
    fig, ax = _figure("Service level: share of calls put through reaching a person within", 2.2)
    labels = [f"{s.threshold_s:g} s" for s in report.service_level]
    shares = [100 * (s.share or 0) for s in report.service_level]
    bars = ax.barh(labels, shares, color=PALETTE[2])
    ax.bar_label(bars, [f"{v:.1f}%" for v in shares], padding=3)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of calls put through")
    return _svg(fig)


def exchange_choices(report: Report) -> str:
    """One stacked bar per shared exchange: callers per municipality chosen, then no choice."""
    rows = report.overlap
    fig, ax = _figure("Shared exchanges: callers' choices", 0.8 + 0.45 * max(1, len(rows)))
    municipalities = sorted({c.municipality for row in rows for c in row.choices})
    colour = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(municipalities)}
    labels = [row.exchange for row in rows]
    left = [0] * len(rows)
    for municipality in municipalities:
        widths = [
            next((c.calls for c in row.choices if c.municipality == municipality), 0)
            for row in rows
        ]
        ax.barh(labels, widths, left=left, color=colour[municipality], label=municipality)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.barh(labels, [r.no_choice for r in rows], left=left, color="#d5dde5", label="no choice")
    ax.invert_yaxis()
    ax.set_xlabel("calls")
    if rows:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return _svg(fig)
