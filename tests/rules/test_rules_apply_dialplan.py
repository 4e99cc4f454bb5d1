"""``ivr311 rules apply|rollback --dialplan FILE``: the dialplan follows the activated version
where no controller runs; a reload that fails is reported and leaves the activation in place."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ivr311.cli import build_parser
from routing_rules.cli_output import EXIT_AFTER_ACTIVATION
from routing_rules.storage.store import RuleStore


def run(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    code: int = args.handler(args)
    return code


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("IVR311_DIALPLAN_FILE", "IVR311_ARI_APP", "IVR311_DIAL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("IVR311_DATABASE_URL", url)
    return url


def active_version(url: str) -> int | None:
    store = RuleStore.open(url)
    try:
        return store.active_version()
    finally:
        store.close()


DURHAM_AGENTS = "+19055550101"


def header(path: Path) -> str:
    """The generated file's line naming the rule set and version."""
    return next(
        line for line in path.read_text(encoding="utf-8").splitlines() if "; rule set:" in line
    )


@pytest.fixture
def fake_asterisk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``asterisk`` first on PATH that records its arguments and reports a reload."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "asterisk-calls.txt"
    script = bin_dir / "asterisk"
    script.write_text(
        f'#!/bin/sh\nprintf "%s|" "$@" >> "{calls}"\necho >> "{calls}"\n'
        'echo "Dialplan reloaded."\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return calls


def test_apply_and_rollback_write_the_dialplan_of_the_active_version(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dialplan = tmp_path / "asterisk" / "ivr311-dialplan.conf"
    common = ["--dialplan", str(dialplan), "--no-reload"]
    assert run("rules", "apply", "durham", "-m", "first", *common) == 0
    assert "version 1 is active" in capsys.readouterr().out
    assert "version 1," in header(dialplan)
    assert DURHAM_AGENTS in dialplan.read_text(encoding="utf-8")

    assert run("rules", "apply", "cape-breton", "--force", "-m", "switch", *common) == 0
    out = capsys.readouterr().out
    assert f"dialplan of version 2 written to {dialplan} (not reloaded: --no-reload)" in out
    assert "version 2," in header(dialplan)
    assert DURHAM_AGENTS not in dialplan.read_text(encoding="utf-8")

    assert run("rules", "rollback", "1", "-m", "back", *common) == 0
    assert "version 1," in header(dialplan)
    assert sorted(p.name for p in dialplan.parent.iterdir()) == [dialplan.name]


def test_the_dialplan_file_defaults_to_the_environment(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialplan = tmp_path / "ivr311-dialplan.conf"
    monkeypatch.setenv("IVR311_DIALPLAN_FILE", str(dialplan))
    monkeypatch.setenv("IVR311_DIAL_ENDPOINT", "other-trunk")
    assert run("rules", "apply", "durham", "-m", "first", "--no-reload") == 0
    assert "@other-trunk" in dialplan.read_text(encoding="utf-8")


def test_without_a_dialplan_file_nothing_is_written(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("rules", "apply", "durham", "-m", "first") == 0
    assert "dialplan" not in capsys.readouterr().out
    assert not list(tmp_path.glob("*.conf"))


def test_apply_reloads_the_dialplan_with_the_given_asterisk_conf(
    db: str, tmp_path: Path, fake_asterisk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dialplan = tmp_path / "ivr311-dialplan.conf"
    conf = tmp_path / "etc" / "asterisk.conf"
    argv = ["--dialplan", str(dialplan), "--asterisk-conf", str(conf)]
    assert run("rules", "apply", "durham", "-m", "first", *argv) == 0
    assert "Asterisk reloaded it" in capsys.readouterr().out
    assert fake_asterisk.read_text(encoding="utf-8").splitlines() == [
        f"-C|{conf}|-rx|dialplan reload|"
    ]


def test_a_missing_asterisk_binary_fails_clearly_and_the_version_stays_active(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    dialplan = tmp_path / "ivr311-dialplan.conf"
    assert run("rules", "apply", "durham", "-m", "first") == 0
    capsys.readouterr()

    code = run("rules", "apply", "cape-breton", "--force", "-m", "x", "--dialplan", str(dialplan))
    assert code == EXIT_AFTER_ACTIVATION
    captured = capsys.readouterr()
    assert "applied: version 2 is active" in captured.out
    assert "no asterisk binary on PATH" in captured.err
    assert "version 2 stays active (the activation is not undone)" in captured.err
    assert active_version(db) == 2
    assert "version 2," in header(dialplan)  # written, only the reload failed

    code = run("rules", "rollback", "1", "-m", "back", "--dialplan", str(dialplan))
    assert code == EXIT_AFTER_ACTIVATION
    assert "version 1 stays active" in capsys.readouterr().err
    assert active_version(db) == 1


def test_a_dialplan_that_cannot_be_written_is_reported_and_the_version_stays_active(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    dialplan = blocker / "ivr311-dialplan.conf"
    code = run("rules", "apply", "durham", "-m", "first", "--dialplan", str(dialplan))
    assert code == EXIT_AFTER_ACTIVATION
    err = capsys.readouterr().err
    assert f"the dialplan could not be written to {dialplan}" in err
    assert "version 1 stays active" in err
    assert active_version(db) == 1
