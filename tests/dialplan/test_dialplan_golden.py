"""The rendered dialplan of each demo rule set, compared with a reviewed golden file and checked
by asterisklint. Set IVR311_UPDATE_GOLDEN=1 to rewrite the golden files after a reviewed change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from dialplan_testing import RENDERED_AT, asterisklint, asterisklint_findings

from dialplan.asterisk_conf import DIALPLAN_FILE, TEMPLATES_DIR
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from ivr311.cli import main as ivr311
from routing_rules.snapshot import DEMO_NAMES, load_snapshot

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.conf"


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_rendered_dialplan_matches_the_golden_file(name: str) -> None:
    text = render_dialplan(load_snapshot(name), DialplanOptions(now=RENDERED_AT))
    if os.environ.get("IVR311_UPDATE_GOLDEN") == "1":
        golden(name).write_text(text, encoding="utf-8")
    assert text == golden(name).read_text(encoding="utf-8")


def test_the_cli_writes_the_same_dialplan(capsys: pytest.CaptureFixture[str]) -> None:
    code = ivr311(["dialplan", "render", "--rules", "durham", "--now", RENDERED_AT.isoformat()])
    assert code == 0
    assert capsys.readouterr().out == golden("durham").read_text(encoding="utf-8")


def test_the_names_the_controller_uses_come_from_the_same_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A controller with IVR311_FALLBACK_CONTEXT=site-311 hands calls back to site-311: the
    rendered dialplan must have that context, and send failed Stasis entries there; one that
    saves call state in CBRM311_STATE leaves a handed-over transfer's plan there."""
    monkeypatch.setenv("IVR311_FALLBACK_CONTEXT", "site-311")
    monkeypatch.setenv("IVR311_ARI_APP", "cbrm311")
    monkeypatch.setenv("IVR311_STATE_VARIABLE", "CBRM311_STATE")
    out = tmp_path / "ivr311-dialplan.conf"
    code = ivr311(["dialplan", "render", "--rules", "durham", "--out", str(out)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "\n[site-311]\n" in text and "\n[ivr311-fallback]\n" not in text
    assert "Stasis(cbrm311,inbound,311)" in text
    assert '"SUCCESS"]?site-311,311,1)' in text
    assert "JSON_DECODE(CBRM311_STATE,t.c" in text and "IVR311_STATE" not in text
    code = ivr311(["dialplan", "render", "--rules", "durham", "--fallback-context", "other"])
    assert code == 0
    assert "\n[other]\n" in capsys.readouterr().out


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_asterisklint_finds_nothing_to_report(name: str, tmp_path: Path) -> None:
    lint = asterisklint()
    if lint is None:
        pytest.skip("asterisklint is not installed")
    shutil.copy(TEMPLATES_DIR / "extensions.conf", tmp_path / "extensions.conf")
    shutil.copy(golden(name), tmp_path / DIALPLAN_FILE)
    assert asterisklint_findings(lint, tmp_path) == []


def test_rules_that_are_neither_a_demo_nor_a_file_are_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert ivr311(["dialplan", "render", "--rules", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "'nosuch' is neither a demo rule set (durham, cape-breton) nor a readable file" in err
