"""The Prometheus alert rules pass ``promtool check rules`` and their unit tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
RULE_TESTS = Path(__file__).resolve().parent / "alerts_test.yml"
SCRAPE_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (apt-get install prometheus)")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)


def test_alert_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_shipped_prometheus_config_is_valid_and_scrapes_every_part(promtool: str) -> None:
    result = run(promtool, "check", "config", str(SCRAPE_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"ivr311", "asterisk", "kamailio"}
    assert 'up{job="ivr311"}' in RULES.read_text(encoding="utf-8")


def test_alerts_fire_when_they_should_and_only_then(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_issue_s_alerts_are_all_there() -> None:
    text = RULES.read_text(encoding="utf-8")
    for alert in (
        "Ivr311AriDisconnected",
        "Ivr311FallbackRateHigh",
        "Ivr311TransferFailureRateHigh",
        "Ivr311NoCallsDuringBusinessHours",
        "Ivr311EmergencyOverridePastExpiry",
        "Ivr311CallRecordsDropped",
        "Ivr311ProxyNodeDown",
    ):
        assert f"alert: {alert}" in text
