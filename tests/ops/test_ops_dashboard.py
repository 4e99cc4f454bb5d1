"""The Grafana dashboard is importable JSON whose queries parse and use metrics that exist."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Metric

from ivr.admin.collector import RulesStateCollector
from ivr.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops" / "grafana" / "ivr311-dashboard.json"
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__range": "1h",
    "$instance": ".*",
    "$asterisk": ".*",
}
ASTERISK_METRICS = {
    "asterisk_channels_count",
    "asterisk_bridges_count",
    "asterisk_core_uptime_seconds",
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def expressions() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dashboard()["annotations"]["list"]]
    return exprs


def exported_names() -> set[str]:
    """Every sample name the controller (and the admin API's collector) can export."""
    families: list[Metric] = list(Metrics().registry.collect())
    families += list(RulesStateCollector(lambda: None).collect())
    names: set[str] = set()
    for family in families:
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(family.name)
    return names


def test_dashboard_is_importable_json() -> None:
    data = dashboard()
    assert data["uid"] and data["title"]
    assert data["panels"]
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()


def test_every_query_uses_a_metric_that_exists() -> None:
    known = exported_names() | ASTERISK_METRICS
    for expr in expressions():
        used = set(re.findall(r"\b((?:ivr311|asterisk)_[a-z0-9_]+)\b", expr))
        assert used, expr
        assert used <= known, f"unknown metric(s) {used - known} in {expr}"


def test_the_kpis_of_the_issue_have_panels() -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard()["panels"])
    for kpi in (
        "calls offered",
        "within 20 s",
        "within 30 s",
        "abandonment",
        "transfers by target and result",
        "fallbacks",
        "after-hours",
        "active calls",
        "ari",
        "rules version",
    ):
        assert kpi in titles, kpi


def test_every_query_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool is missing")
    rules = []
    for n, expr in enumerate(expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
