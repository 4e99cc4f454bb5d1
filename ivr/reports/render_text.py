"""The report as aligned plain-text tables (the terminal's form)."""

from __future__ import annotations

from ivr.reports.figures import Report
from ivr.reports.tables import Cell, Table, tables


def _cell(value: Cell) -> str:
    return "" if value is None else str(value)


def _table(table: Table) -> list[str]:
    grid = [table.header, *table.rows]
    cells = [[_cell(v) for v in row] for row in grid]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.header))]
    lines = [table.title, "-" * len(table.title)]
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 or not c[:1].isdigit() else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    if not table.rows:
        lines.append("(none)")
    return lines


def render(report: Report) -> str:
    period = report.range
    lines = [f"ivr311 call report, {period.start} to {period.end} (host's local dates)", ""]
    for table in tables(report):
        lines += [*_table(table), ""]
    return "\n".join(lines)
