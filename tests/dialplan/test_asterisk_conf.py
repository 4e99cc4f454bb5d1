"""`ivr311 asterisk-conf render`: a complete configuration, and never a shipped password."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dialplan.asterisk_conf import (
    TEMPLATES_DIR,
    AsteriskConfSettings,
    ConfError,
    ari_password,
    link_prompts,
)
from ivr311.cli import main as ivr311
from recordings.manifest import LANGUAGES, SOUNDS_DIR

EXPECTED_FILES = {
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "http.conf",
    "ari.conf",
    "pjsip.conf",
    "extensions.conf",
    "musiconhold.conf",
    "prometheus.conf",
    "ivr311-dialplan.conf",
}


def render(out: Path, *extra: str) -> int:
    return ivr311(["asterisk-conf", "render", "--rules", "durham", "--out", str(out), *extra])


def test_rendering_refuses_without_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IVR311_ARI_PASSWORD", raising=False)
    assert render(tmp_path / "etc") == 2
    assert "no ARI password" in capsys.readouterr().err
    assert not (tmp_path / "etc").exists()


def test_no_template_ships_a_password() -> None:
    ari = (TEMPLATES_DIR / "ari.conf").read_text(encoding="utf-8")
    assert "password = @{ari_password}" in ari


def test_a_complete_configuration_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVR311_ARI_PASSWORD", raising=False)
    secret = tmp_path / "ari-password"
    secret.write_text("correct-horse\n", encoding="utf-8")
    out = tmp_path / "etc"
    code = render(
        out,
        "--ari-password-file",
        str(secret),
        "--sip-port",
        "5070",
        "--carrier-address",
        "198.51.100.7",
        "--system-name",
        "node2",
    )
    assert code == 0
    files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    assert set(files) >= EXPECTED_FILES
    assert not [name for name, text in files.items() if "@{" in text]
    assert "password = correct-horse" in files["ari.conf"]
    assert stat.S_IMODE((out / "ari.conf").stat().st_mode) == 0o600
    assert "bind = 0.0.0.0:5070" in files["pjsip.conf"]
    assert "match = 198.51.100.7" in files["pjsip.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "autoload = no" in files["modules.conf"]
    # a caller on hold hears music on their own channel, in no bridge
    assert "load => res_musiconhold.so" in files["modules.conf"]
    assert f"astetcdir => {out.resolve()}" in files["asterisk.conf"]
    # channel ids of this node start with its name: unique across nodes sharing a database
    assert "systemname = node2" in files["asterisk.conf"]
    assert '#include "ivr311-dialplan.conf"' in files["extensions.conf"]
    assert "Stasis(ivr311,inbound,311)" in files["ivr311-dialplan.conf"]


def test_the_environment_password_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR311_ARI_PASSWORD", "from-env")
    assert ari_password().get_secret_value() == "from-env"


@pytest.mark.parametrize("bad", ["two\nlines", "semi;colon", "[section]"])
def test_a_password_that_would_break_ari_conf_is_refused(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR311_ARI_PASSWORD", bad)
    with pytest.raises(ConfError):
        ari_password()


def test_settings_refuse_names_that_would_inject_configuration() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        AsteriskConfSettings(dial_endpoint="trunk]\n[evil")


def test_a_system_name_that_would_look_like_a_call_leg_is_refused() -> None:
    """The controller tells a destination leg by a ``-leg`` suffix of the caller's id."""
    with pytest.raises(ValueError, match="letters, digits and _ only"):
        AsteriskConfSettings(system_name="x-leg1")
    assert AsteriskConfSettings(system_name="node_2").system_name == "node_2"


def test_prompts_are_linked_into_the_sounds_directory(tmp_path: Path) -> None:
    links = link_prompts(tmp_path)
    assert len(links) == len(LANGUAGES)
    for lang in LANGUAGES:
        greeting = tmp_path / "sounds" / lang / "ivr311" / "greeting.wav"
        assert greeting.resolve() == (SOUNDS_DIR / lang / "ivr311" / "greeting.wav").resolve()
    assert link_prompts(tmp_path) == links
