"""KPI reports over the stored call records (``ivr311 report``, ``GET /api/report``).

One job a module: `period` reads the range and names the periods, `query` asks the database for
a handful of ``GROUP BY`` results, `figures` turns them into the report's figures (pure), and
one renderer a format (`render_text`, `render_csv`, `render_json`, `render_html` with
`charts`). `build_report` ties them together for the command and the admin API.
"""

from ivr.reports.build import FORMATS, build_report, render

__all__ = ["FORMATS", "build_report", "render"]
