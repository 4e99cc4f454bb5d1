"""The report as titled tables, the shared shape of the text, CSV and HTML forms.

The overlap table comes first: it is what a region takes to the carrier and the CRTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.reports.figures import TRANSFER_RESULTS, Report

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    key: str
    """A stable name (the CSV's first column, the HTML element's id)."""
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def tables(report: Report) -> list[Table]:
    total = report.total
    overlap_rows: list[tuple[Cell, ...]] = []
    for row in report.overlap:
        for choice in row.choices:
            overlap_rows.append(
                (row.exchange, choice.municipality, choice.calls, share(choice.calls, row.offered))
            )
        overlap_rows.append(
            (row.exchange, "(no choice)", row.no_choice, share(row.no_choice, row.offered))
        )

    def counts(key: str, title: str, table: dict[str, int], of: int = total) -> Table:
        return Table(
            key,
            title,
            ("", "calls", "share"),
            tuple((k, n, share(n, of)) for k, n in table.items()),
        )

    return [
        Table(
            "overlap",
            "Shared exchanges: where callers chose to go",
            ("exchange", "municipality chosen", "calls", "share of the menu's callers"),
            tuple(overlap_rows),
        ),
        Table(
            "summary",
            "Calls offered",
            ("", "calls", "share"),
            (
                ("calls offered", total, share(total, total)),
                ("after hours", report.after_hours, share(report.after_hours, total)),
                (
                    "greeting skipped",
                    report.greeting_skipped,
                    share(report.greeting_skipped, total),
                ),
                ("0 for an agent", report.zero_outs_total, share(report.zero_outs_total, total)),
                ("abandoned", report.abandoned_total, share(report.abandoned_total, total)),
            ),
        ),
        counts("number_kind", "By number dialled", report.by_number_kind),
        Table(
            "period",
            f"Calls per {report.range.by}",
            (report.range.by, "calls"),
            tuple(report.by_period),
        ),
        Table("hour", "Hour of day", ("hour", "calls"), tuple(enumerate(report.by_hour))),
        Table(
            "weekday",
            "Day of week",
            ("day", "calls"),
            tuple(zip(WEEKDAYS, report.by_weekday, strict=True)),
        ),
        counts("zero_out", "0 for an agent, where", report.zero_outs),
        counts("language", "Language", report.language),
        counts("evidence", "Routing evidence", report.evidence),
        counts("outcome", "How calls ended", report.outcomes),
        Table(
            "transfers",
            "Transfers per destination",
            ("destination", "attempts", *TRANSFER_RESULTS),
            tuple(
                (row.destination, row.attempts, *(row.results[k] for k in TRANSFER_RESULTS))
                for row in report.transfers
            ),
        ),
        counts("abandoned", "Abandoned, by stage", report.abandoned, report.abandoned_total),
        counts(
            "status_checks",
            "Service-request status checks, by result",
            {**report.status_checks, "answered without an agent": report.status_contained},
            report.status_checks_total,
        ),
        Table(
            "service",
            "Time from answer to a person",
            ("", "value"),
            (
                ("put through to a destination", report.put_through),
                ("reached a person", report.reached_person),
                ("p50", seconds(report.p50_s)),
                ("p90", seconds(report.p90_s)),
                *(
                    (
                        f"within {s.threshold_s:g} s",
                        f"{s.within} ({share(s.within, report.put_through)})",
                    )
                    for s in report.service_level
                ),
            ),
        ),
    ]
