"""The report as one CSV: each row ``table, then the table's own columns``; each table starts
with its header row, so a spreadsheet filter on the first column shows one table."""

from __future__ import annotations

import csv
import io

from ivr.reports.figures import Report
from ivr.reports.tables import tables


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for table in tables(report):
        writer.writerow([table.key, *table.header])
        for row in table.rows:
            writer.writerow([table.key, *("" if v is None else v for v in row)])
    return out.getvalue()
