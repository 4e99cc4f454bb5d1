"""`ivr311-agi` driven as Asterisk drives it: the AGI environment on stdin, replies to each
command, and the channel variables it sets read back from stdout."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from agi_testing import MONDAY_MORNING, SUNDAY, agi_env, run_agi

from ivr.agi.script import AgiCall, active_snapshot, channel_variables, decide_for_agi
from routing_rules.snapshot import DEMO_DIR, default_geo, load_snapshot
from routing_rules.storage.store import RuleStore


def test_a_bowmanville_caller_gets_the_destination_serving_clarington() -> None:
    code, variables = run_agi(
        agi_env("9056230123"), "--rules", "durham", "--at", MONDAY_MORNING.isoformat()
    )
    assert code == 0
    assert variables["IVR311_MUNICIPALITY"] == "clarington"
    assert variables["IVR311_DEST"] == "+19055550101"
    assert variables["IVR311_DIAL"] == "PJSIP/+19055550101@contact-centres"
    assert "clarington" in variables["IVR311_REASON"]


def test_after_hours_the_after_hours_line_and_its_message_are_set() -> None:
    code, variables = run_agi(
        agi_env("9056230123"), "--rules", "durham", "--at", SUNDAY.isoformat()
    )
    assert code == 0
    assert variables["IVR311_ACTION"] == "after_hours"
    assert variables["IVR311_DEST"] == "+19055550102"
    assert variables["IVR311_MESSAGE"] == (
        "ivr311/after-hours&ivr311/emergency-911&ivr311/website-clarington"
    )
    # Clarington's website in the message; Service Durham's if the after-hours line fails.
    assert variables["IVR311_WEBSITE"] == "ivr311/website-clarington&ivr311/website-durham"


@pytest.mark.parametrize("calling", ["anonymous", "", "Restricted"])
def test_a_withheld_number_gets_a_decision_without_a_menu(calling: str) -> None:
    snapshot = load_snapshot("durham")
    decision = decide_for_agi(snapshot, AgiCall("311", calling or None, MONDAY_MORNING, "en"))
    variables = channel_variables(decision, "contact-centres")
    assert variables["IVR311_ACTION"] == "agent"
    assert variables["IVR311_DEST"] == "+19055550101"


def test_values_never_break_the_agi_quoting() -> None:
    snapshot = load_snapshot("durham")
    decision = decide_for_agi(snapshot, AgiCall("311", "9056230123", MONDAY_MORNING, "en"))
    assert all('"' not in v and "\n" not in v for v in channel_variables(decision, "x").values())


def durham_answered_at(number: str) -> str:
    """The Durham demo with its agents (who serve Clarington) at another number."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    assert '"+19055550101"' in text
    return text.replace('"+19055550101"', f'"{number}"')


def apply_to(url: str, text: str) -> None:
    store = RuleStore.open(url)
    try:
        base = store.active_version()
        geo = default_geo()
        store.apply(text, author="test", comment="agents moved", base_version=base, geo=geo)
    finally:
        store.close()


def test_asterisk_in_its_own_directory_reads_the_controllers_store(
    state_home: Path, tmp_path: Path
) -> None:
    """The default store is the same file from any directory, and each new active version
    is what the next call gets."""
    default_store = f"sqlite:///{state_home / 'ivr311' / 'rules.db'}"
    apply_to(default_store, durham_answered_at("+19055550188"))
    asterisk_dir = tmp_path / "var-lib-asterisk"
    asterisk_dir.mkdir()
    at = ("--at", MONDAY_MORNING.isoformat())
    code, variables = run_agi(agi_env("9056230123"), *at, cwd=asterisk_dir)
    assert code == 0, variables
    assert variables["IVR311_DEST"] == "+19055550188"
    apply_to(default_store, durham_answered_at("+19055550177"))
    code, variables = run_agi(agi_env("9056230123"), *at, cwd=asterisk_dir)
    assert (code, variables["IVR311_DEST"]) == (0, "+19055550177")
    assert list(asterisk_dir.iterdir()) == []


def test_a_store_named_with_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    apply_to(url, durham_answered_at("+19055550188"))
    code, variables = run_agi(
        agi_env("9056230123"), "--database", url, "--at", MONDAY_MORNING.isoformat()
    )
    assert (code, variables["IVR311_DEST"]) == (0, "+19055550188")


def test_without_a_store_the_seed_rules_decide_and_no_store_is_created(
    state_home: Path, tmp_path: Path
) -> None:
    code, variables = run_agi(
        agi_env("9056230123"), "--at", MONDAY_MORNING.isoformat(), cwd=tmp_path
    )
    assert (code, variables["IVR311_DEST"]) == (0, "+19055550101")
    assert not (state_home / "ivr311").exists()
    assert list(tmp_path.iterdir()) == []


def test_reading_a_sqlite_store_imports_neither_sqlalchemy_nor_alembic(state_home: Path) -> None:
    apply_to(f"sqlite:///{state_home / 'ivr311' / 'rules.db'}", durham_answered_at("+19055550188"))
    script = (
        "import sys\n"
        "from ivr.agi.script import load_rules\n"
        "assert load_rules(None).version == 1\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "[]"), done.stderr


def test_the_validated_rules_are_cached_by_version_and_content(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rules.db'}"
    apply_to(url, durham_answered_at("+19055550188"))
    store = RuleStore.open(url)
    try:
        stored = store.active()
    finally:
        store.close()
    assert stored is not None
    geo = default_geo()
    cache = tmp_path / "cache"
    first = active_snapshot(stored, geo, cache_dir=cache)
    (entry,) = cache.glob("rules-*.pickle")
    again = active_snapshot(stored, geo, cache_dir=cache)
    assert (again.rules, again.version, again.content_hash, again.source) == (
        first.rules,
        first.version,
        first.content_hash,
        first.source,
    )
    entry.write_bytes(b"not a pickle")  # a damaged cache file: validated again, rewritten
    assert active_snapshot(stored, geo, cache_dir=cache).rules == first.rules
    assert pickle.loads(entry.read_bytes())[1] == stored.content_hash
