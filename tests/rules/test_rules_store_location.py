"""Where the rule store is when none is named, and commands that only read never create one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from ivr311.cli import main
from routing_rules.snapshot import DEMO_DIR, default_geo
from routing_rules.storage.errors import StoreUnavailable
from routing_rules.storage.reader import (
    SCHEMA_HEAD,
    SCHEMA_VERSION_TABLE,
    NotReadableHere,
    read_active,
    sqlite_file,
)
from routing_rules.storage.store import MIGRATIONS, RuleStore


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An unrelated working directory (Asterisk's, say)."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.parametrize(
    "argv",
    [
        ["rules", "history"],
        ["rules", "export"],
        ["rules", "show"],
        ["rules", "diff", "1"],
        ["rules", "rollback", "1", "-m", "back"],
        ["simulate", "--store"],
        ["dialplan", "render"],
        ["asterisk-conf", "render", "--out", "conf"],
    ],
    ids=" ".join,
)
def test_a_command_that_reads_says_there_is_no_store_yet_and_creates_none(
    argv: list[str],
    state_home: Path,
    elsewhere: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IVR311_ARI_PASSWORD", "secret")
    assert main(argv) != 0
    err = capsys.readouterr().err
    database = state_home / "ivr311" / "rules.db"
    assert f"no rule store yet at {database}: `ivr311 rules apply durham" in err
    assert "Traceback" not in err
    assert not (state_home / "ivr311").exists()
    assert list(elsewhere.iterdir()) == []


def test_the_store_rules_apply_creates_is_found_from_any_directory(
    state_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert main(["rules", "apply", "durham", "-m", "first rules"]) == 0
    assert (state_home / "ivr311" / "rules.db").is_file()
    monkeypatch.chdir(tmp_path / "b")
    capsys.readouterr()
    assert main(["rules", "history"]) == 0
    assert "first rules" in capsys.readouterr().out
    assert main(["dialplan", "render", "--out", "ivr311-dialplan.conf"]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["ivr311-dialplan.conf"]
    assert list((tmp_path / "a").iterdir()) == []


def test_two_files_are_compared_without_a_store(
    state_home: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "diff", "durham", "cape-breton"]) == 0
    assert capsys.readouterr().out.startswith("--- durham\n+++ cape-breton\n")
    assert not (state_home / "ivr311").exists()


def test_an_unusable_url_is_refused_in_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StoreUnavailable, match="unsupported database 'foo'"):
        RuleStore.open("foo://bar")
    assert main(["rules", "history", "--database", "foo://bar"]) == 1
    assert capsys.readouterr().err.startswith("error: unsupported database 'foo'")


def test_schema_head_is_the_newest_migration(tmp_path: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    try:
        assert store.schema_revision() == SCHEMA_HEAD
    finally:
        store.close()


def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    RuleStore.open(url).close()  # created and migrated
    script = (
        "import sys\n"
        "from routing_rules.storage.store import RuleStore\n"
        f"RuleStore.open({url!r}, create=False).close()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('alembic')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_standard_library_reader_agrees_with_the_store(tmp_path: Path) -> None:
    path = tmp_path / "rules.db"
    store = RuleStore.open(f"sqlite:///{path}")
    try:
        assert read_active(path) is None
        text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
        store.apply(text, author="t", comment="c", base_version=None, geo=default_geo())
        stored = store.active()
    finally:
        store.close()
    active = read_active(path)
    assert stored is not None and active is not None
    assert (active.version, active.content, active.content_hash) == (
        stored.version,
        stored.content,
        stored.content_hash,
    )
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {SCHEMA_VERSION_TABLE} SET version_num = '0000'")
    with pytest.raises(NotReadableHere):
        read_active(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/ivr311/rules.db", Path("/var/lib/ivr311/rules.db")),
        ("sqlite+pysqlite:////srv/rules.db", Path("/srv/rules.db")),
        ("sqlite:///relative.db", Path("relative.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////srv/rules.db?timeout=5", None),
        ("sqlite:///file:rules.db?mode=ro&uri=true", None),
        ("postgresql+psycopg://ivr311@db/ivr311", None),
    ],
)
def test_only_plain_sqlite_urls_are_read_without_sqlalchemy(
    url: str, expected: Path | None
) -> None:
    assert sqlite_file(url) == expected
