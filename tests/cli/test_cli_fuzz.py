"""Arbitrary arguments to every ``ivr311`` command an admin runs by hand.

An answer is an exit code the README documents (0 ok, 1 refused, 2 invalid, argparse's 2 for a
usage error) and words on the terminal, never a traceback and never the internal-error code 70.
Commands that start servers (``run``, ``demo``, ``fastagi``) or reach a running Asterisk
(``--reload``) are left out; every path argument points into the test's own folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzing import fuzz_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr311.cli import main

GARBAGE = st.one_of(
    st.sampled_from(
        [
            "",
            "-",
            "--",
            "0",
            "-1",
            "99999999999999999999999999",
            "1e999",
            "nan",
            "inf",
            "2026-02-30",
            "2026-13-01T25:00",
            "9999-12-31T23:59:59",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01",
            "9999-12-31",
            "+19055550123",
            "905555",
            "anonymous",
            "durham",
            "cape-breton",
            "/dev/zero",
            "/nonexistent/x.yaml",
            "91.0",
            "-181",
            "é" * 300,
            "x" * 5000,
            "\u202e",
            "sqlite:///nonexistent/dir/x.db",
            "postgresql://nobody@127.0.0.1:1/none",
            "not a url",
        ]
    ),
    st.text(max_size=30).filter(lambda t: "\x00" not in t),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)

COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("rules", "validate"): ("--json",),
    ("rules", "show"): ("--database",),
    ("rules", "history"): ("--database", "--limit"),
    ("rules", "diff"): ("--database",),
    ("rules", "export"): ("--database",),
    ("rules", "rollback"): ("--database", "--base", "-m", "--author"),
    ("rules", "apply"): ("--database", "--base", "-m", "--author", "--force"),
    ("simulate",): (
        "--rules",
        "--from",
        "--to",
        "--at",
        "--press",
        "--greeting-key",
        "--lat",
        "--lon",
        "--language",
        "--json",
        "--store",
        "--version",
    ),
    ("geo", "locate"): (),
    ("geo", "number"): (),
    ("dialplan", "render"): (
        "--rules",
        "--app",
        "--dial-endpoint",
        "--fallback-context",
        "--holiday-years",
        "--now",
    ),
}
FLAGS_WITHOUT_VALUE = {"--json", "--force", "--store"}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    argv = list(command)
    argv += draw(st.lists(GARBAGE, max_size=3))
    for flag in draw(st.lists(st.sampled_from(COMMANDS[command] or ("--help",)), max_size=5)):
        argv.append(flag)
        if flag not in FLAGS_WITHOUT_VALUE and flag != "--help":
            argv.append(draw(GARBAGE))
    return argv


@settings(
    max_examples=250,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=command_lines())
def test_any_arguments_get_a_documented_answer(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fuzz_case("cli-arguments")
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 1, 2, 3), (argv, code, err[-500:])
