"""Which log level each command runs at: the demo tour prints its own traces, so its log stays
quiet unless asked for."""

from __future__ import annotations

import pytest

from ivr311.cli import build_parser, chosen_log_level


def level_for(*argv: str) -> str | None:
    return chosen_log_level(build_parser().parse_args(list(argv)))


def test_the_demo_logs_only_warnings_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR311_LOG_LEVEL", raising=False)
    assert level_for("demo") == "WARNING"
    assert level_for("run") is None


def test_an_explicit_level_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR311_LOG_LEVEL", "error")
    assert level_for("demo") == "error"
    assert level_for("--log-level", "debug", "demo") == "debug"
