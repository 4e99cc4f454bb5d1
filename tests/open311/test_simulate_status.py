"""``ivr311 simulate --request``: the status check in the trace, against a named server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rules_editing import with_own_open311

from ivr311.cli import main
from routing_rules.snapshot import DEMO_DIR
from switchsim.georeport import SERVER_ERROR_ID, GeoReportServer, serving_in_thread

CALL = ["simulate", "--from", "9056660123", "--at", "2026-11-24T10:00"]


@pytest.fixture
def server() -> Iterator[GeoReportServer]:
    """The GeoReport v2 server on its own event loop (the command runs its own)."""
    with serving_in_thread() as running:
        yield running


def trace_of(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main([*CALL, *args, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def status_step(report: dict[str, object]) -> dict[str, str]:
    trace = report["trace"]
    assert isinstance(trace, list)
    return next(t for t in trace if t["stage"] == "status")


def test_a_found_request_ends_the_trace_with_goodbye(
    server: GeoReportServer, capsys: pytest.CaptureFixture[str]
) -> None:
    report = trace_of(capsys, "--request", "5678", "--status-server", server.base_url)
    assert server.asked == ["5678"]
    assert "status check: found" in status_step(report)["evidence"]
    assert report["outcome"] == {"action": "message", "municipality": None, "destination": None}


def test_a_failing_server_routes_the_traced_call_to_a_person(
    server: GeoReportServer, capsys: pytest.CaptureFixture[str]
) -> None:
    report = trace_of(capsys, "--request", SERVER_ERROR_ID, "--status-server", server.base_url)
    assert "status check: down" in status_step(report)["evidence"]
    outcome = report["outcome"]
    assert isinstance(outcome, dict) and outcome["action"] != "message"


def test_a_result_can_be_given_without_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    report = trace_of(capsys, "--request", "1234", "--status", "slow")
    assert "status check: slow" in status_step(report)["evidence"]


def test_a_request_number_is_digits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*CALL, "--request", "12a4", "--status", "found"]) == 2
    assert "up to 20 digits" in capsys.readouterr().err


def test_the_status_menu_choice_is_in_the_trace(
    server: GeoReportServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A withheld number, Pickering and Ajax running their own servers: the first --press
    picks the server at the status menu; without it the trace waits at that menu."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    for mun in ("pickering", "ajax"):
        text = with_own_open311(text, mun, f"https://311.{mun}.example/")
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    call = ["simulate", "--rules", str(rules), "--from", "anonymous", "--at", "2026-11-24T10:00"]
    assert main([*call, "--request", "5678", "--json"]) == 0
    waiting = json.loads(capsys.readouterr().out)
    assert waiting["outcome"]["action"] == "menu" and waiting["outcome"]["menu"] == "status"
    assert waiting["outcome"]["options"] == {"1": "pickering", "2": "ajax", "3": "durham"}
    args = ["--press", "2", "--request", "5678", "--status-server", server.base_url]
    assert main([*call, *args, "--json"]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert server.asked == ["5678"]
    steps = [(t["evidence"], t["result"]) for t in chosen["trace"] if t["stage"] == "status"]
    assert ("status menu: pressed 2", "Ajax") in steps
    assert any("status check: found" in evidence for evidence, _ in steps)
