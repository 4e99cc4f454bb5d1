"""A telecom admin's typo gets one clear line naming the file, the field and the value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geo.sources import DATA_DIR, GEODATA_DIR_ENV
from ivr311.cli import main
from routing_rules.snapshot import DEMO_DIR, _default_geo

DURHAM = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")


def _file(tmp_path: Path, old: str, new: str) -> Path:
    assert old in DURHAM
    path = tmp_path / "rules.yaml"
    path.write_text(DURHAM.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "date: 2026-12-31",
            "date: 2026-02-30",
            "schedules.durham-hours.extra_closures[0].date: '2026-02-30' is not a date",
        ),
        (
            "date: 2026-12-31",
            "date: 2026-13-01",
            "schedules.durham-hours.extra_closures[0].date: '2026-13-01' is not a date",
        ),
        ("format: 1", "format: " + "7" * 5000, "format: '7777"),
        (
            "    timezone: America/Toronto",
            "    timezone: Mars/Base",
            "not an IANA time zone (like America/Toronto) (got 'Mars/Base')",
        ),
    ],
)
@pytest.mark.parametrize("command", [["rules", "validate"], ["rules", "apply", "-m", "typo"]])
def test_a_typo_is_named_with_file_field_and_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    old: str,
    new: str,
    expected: str,
) -> None:
    path = _file(tmp_path, old, new)
    assert main([*command, str(path)]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if expected in line]
    assert lines and all(line.startswith(f"{path}: ") for line in lines), out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    "command",
    [
        ["dialplan", "render", "--rules"],
        ["asterisk-conf", "render", "--ari-password-file", "PASSWORD", "--rules"],
        ["simulate", "--at", "2026-12-01T10:00", "--rules"],
    ],
)
def test_every_command_taking_rules_prints_the_validation_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    password = tmp_path / "ari-password"
    password.write_text("secret\n")
    path = _file(tmp_path, "date: 2026-12-31", "date: 2026-02-30")
    argv = [str(password) if part == "PASSWORD" else part for part in command]
    out_dir = ["--out", str(tmp_path / "out")] if command[0] != "simulate" else []
    assert main([*argv, str(path), *out_dir]) == 2
    err = capsys.readouterr().err
    assert f"{path}: schedules.durham-hours.extra_closures[0].date" in err
    assert "--at" not in err  # the rule file is at fault, not the time asked for


def test_an_expired_emergency_override_is_refused_by_validate_and_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(
        tmp_path,
        '      active: false\n      reason: ""',
        "      active: true\n      reason: storm\n      expires: 2020-01-01T08:00:00-05:00",
    )
    expected = "schedules.durham-hours.emergency_override.expires: 2020-01-01T08:00:00-05:00 is in"
    for command in (["rules", "validate"], ["rules", "apply", "-m", "storm"]):
        assert main([*command, str(path)]) == 2
        out, err = capsys.readouterr()
        assert expected in out + err


def test_a_rule_file_that_is_not_text_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"\xff\xfe\x00rules")
    assert main(["rules", "validate", str(path)]) == 1
    assert f"{path}: not a rule-set file (not UTF-8 text)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["rules", "validate", "durham"], ["dialplan", "render", "--rules", "durham"]]
)
def test_invalid_geodata_is_named_by_every_command_that_reads_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    geodata = tmp_path / "geodata"
    shutil.copytree(DATA_DIR, geodata)
    (geodata / "municipalities.geojson").write_text('{"type": "FeatureCollection", "features": [')
    monkeypatch.setenv(GEODATA_DIR_ENV, str(geodata))
    monkeypatch.setenv("IVR311_CACHE_DIR", str(tmp_path / "cache"))
    _default_geo.cache_clear()
    try:
        assert main(command) == 2
    finally:
        _default_geo.cache_clear()
    out, err = capsys.readouterr()
    assert f"geodata refused:\n  {geodata / 'municipalities.geojson'}: -: not valid JSON" in err
    assert "Traceback" not in out + err


def test_a_control_character_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("format: 1\nhost: {id: x\x00}\n", encoding="utf-8")
    assert main(["rules", "validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"{path}: error: line 2, column 13: not valid YAML: the character #x0000 is not allowed"
    )
