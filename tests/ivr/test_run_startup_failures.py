"""``ivr311 run`` that cannot start says which setting to fix in one line per problem and exits
2, whatever went wrong while loading (an exception nobody expected included), never with a
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr311.cli import build_parser
from routing_rules.storage.store import RuleStore


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``ivr311 run`` in this process: its exit status must be 2; its stderr lines."""
    monkeypatch.setenv("IVR311_HTTP_LISTEN", "127.0.0.1:0")
    args = build_parser().parse_args(["run"])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()


def test_a_seed_file_the_loader_chokes_on_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "deep.yaml"
    rules.write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    monkeypatch.setenv("IVR311_RULES", str(rules))
    heading, *problems = run(monkeypatch, capsys)
    assert heading == "ivr311: cannot start:"
    assert problems and all(p.startswith(f"  IVR311_RULES: {rules} ") for p in problems)


def test_any_exception_while_seeding_is_one_line_with_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise OverflowError("a date too far in the future")

    monkeypatch.setattr(RuleStore, "apply", broken)
    assert run(monkeypatch, capsys) == [
        "ivr311: cannot start:",
        "  IVR311_RULES: durham cannot be loaded: OverflowError: a date too far in the future",
    ]


def test_an_active_version_that_cannot_be_loaded_names_the_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(RuleStore, "load_snapshot", broken)
    assert run(monkeypatch, capsys) == [
        "ivr311: cannot start:",
        "  IVR311_DATABASE_URL: the active version cannot be loaded: RecursionError: "
        "maximum recursion depth exceeded",
    ]


def test_geodata_the_loader_chokes_on_names_the_directory(tmp_path: Path) -> None:
    """In a process of its own: this one keeps the geodata it loaded first."""
    data = Path(__file__).resolve().parents[2] / "geo" / "data"
    for name in ("municipalities.geojson", "cnac_co_codes.csv"):
        (tmp_path / name).write_bytes((data / name).read_bytes())
    (tmp_path / "exchanges.geojson").write_text("[" * 100_000 + "]" * 100_000)
    done = subprocess.run(
        [sys.executable, "-m", "ivr311.cli", "run"],
        env={
            **os.environ,
            "IVR311_HTTP_LISTEN": "127.0.0.1:0",
            "IVR311_GEODATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    heading, *problems = done.stderr.splitlines()
    assert heading == "ivr311: cannot start:"
    assert problems
    assert all(p.startswith("  IVR311_GEODATA_DIR: the geodata cannot be used: ") for p in problems)
