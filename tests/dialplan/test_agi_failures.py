"""Whatever fails, ``ivr311-agi`` leaves the dialplan something to do: the host's agents when the
rules could be read, else a recorded message that always ships; ``IVR311_ACTION=error`` and a
reason; one JSON event on stderr and exit status 0. Garbled input still gets a decision."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from agi_testing import MONDAY_MORNING, agi_env, agi_in_process, run_agi_logged
from structured_log import log_lines, production_log

import ivr.agi.script
from ivr.agi.script import MAX_VALUE_CHARS, SAFE_MESSAGE
from recordings.manifest import sound_path
from routing_rules.snapshot import DEMO_DIR, default_geo
from routing_rules.storage.store import RuleStore

AT = ("--at", MONDAY_MORNING.isoformat())
SAFE = "ivr311/override&ivr311/emergency-911&ivr311/goodbye"
BOWMANVILLE = agi_env("9056230123")


def assert_safe_message(variables: dict[str, str], error_type: str) -> None:
    assert variables["IVR311_ACTION"] == "error"
    assert variables["IVR311_DEST"] == ""
    assert variables["IVR311_MESSAGE"] == SAFE
    assert variables["IVR311_REASON"].startswith(f"error: {error_type}: ")


def only_failure(events: list[dict[str, object]], error_type: str) -> None:
    assert [(e["event"], e["error_type"]) for e in events] == [("agi.failed", error_type)]


def test_the_safe_message_ships_in_every_language() -> None:
    assert "&".join(f"ivr311/{p}" for p in SAFE_MESSAGE) == SAFE
    for language in ("en", "fr_CA"):
        for prompt in SAFE_MESSAGE:
            assert sound_path(prompt, language).is_file()


def test_a_rule_file_that_does_not_exist(tmp_path: Path) -> None:
    code, variables, events = run_agi_logged(BOWMANVILLE, "--rules", str(tmp_path / "no.yaml"))
    assert code == 0
    assert_safe_message(variables, "RulesUnreadable")
    only_failure(events, "RulesUnreadable")


def test_an_invalid_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("format: 1\nhost: {id: 5}\n", encoding="utf-8")
    code, variables, events = run_agi_logged(BOWMANVILLE, "--rules", str(rules))
    assert code == 0
    assert_safe_message(variables, "RuleSetInvalid")
    only_failure(events, "RuleSetInvalid")


def test_a_database_that_cannot_be_reached() -> None:
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/ivr311"
    code, variables, events = run_agi_logged(BOWMANVILLE, "--database", unreachable)
    assert code == 0
    assert_safe_message(variables, "StoreUnavailable")
    only_failure(events, "StoreUnavailable")


def test_stored_rules_that_no_longer_validate(tmp_path: Path) -> None:
    path = tmp_path / "rules.db"
    store = RuleStore.open(f"sqlite:///{path}")
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    store.apply(text, author="t", comment="t", base_version=None, geo=default_geo())
    store.close()
    with sqlite3.connect(path) as conn:  # what a hand edit of the database would leave
        conn.execute("UPDATE rule_versions SET content = 'format: 1', content_hash = 'edited'")
    code, variables, events = run_agi_logged(BOWMANVILLE, "--database", f"sqlite:///{path}")
    assert code == 0
    assert_safe_message(variables, "RuleSetInvalid")
    only_failure(events, "RuleSetInvalid")


def test_geodata_that_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IVR311_GEODATA_DIR", str(tmp_path / "nowhere"))
    code, variables, events = run_agi_logged(BOWMANVILLE, *AT)
    assert code == 0
    assert_safe_message(variables, events[0]["error_type"])
    assert [e["event"] for e in events] == ["agi.failed"]


@pytest.mark.parametrize("wrong", [("--at", "yesterday"), ("--language", "de"), ("--colour",)])
def test_wrong_arguments_from_the_dialplan(wrong: tuple[str, ...]) -> None:
    code, variables, events = run_agi_logged(BOWMANVILLE, *wrong)
    assert code == 0
    assert_safe_message(variables, "WrongArguments")
    only_failure(events, "WrongArguments")


def test_a_bug_after_the_rules_were_read_sends_the_call_to_the_host_agents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug in deciding")

    monkeypatch.setattr(ivr.agi.script, "decide_for_agi", broken)
    with production_log() as events:
        code, variables = agi_in_process(BOWMANVILLE.encode(), ["--rules", "durham"], monkeypatch)
    assert code == 0
    assert variables["IVR311_ACTION"] == "error"
    assert variables["IVR311_DEST"] == "+19055550101"  # Service Durham's agents
    assert variables["IVR311_DIAL"] == "PJSIP/+19055550101@contact-centres"
    assert variables["IVR311_RING_TIMEOUT"] == "20"
    assert variables["IVR311_MESSAGE"] == "ivr311/transferring&ivr311/please-hold"
    assert variables["IVR311_REASON"] == "error: ZeroDivisionError: a bug in deciding"
    (failed,) = events
    assert (failed["event"], failed["rules_read"], failed["error"]) == (
        "agi.failed",
        True,
        "a bug in deciding",
    )


@pytest.mark.parametrize(
    "stdin",
    [
        b"\n",  # no AGI variable at all
        b"agi_callerid: \xff\xfe\x00garbage\nagi_extension: 3\xe911\n\n",
        b"agi_callerid: " + b"9" * 100_000 + b"\nagi_dnid: " + b"*#ABCD" * 1000 + b"\n\n",
        b"no colon here\n:\n::::\nagi_callerid:\n\n",
        b'agi_callerid: "Restricted" <anonymous>\nagi_extension: 311\n\n',
    ],
)
def test_a_garbled_environment_still_gets_a_decision(
    stdin: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    with production_log() as events:
        code, variables = agi_in_process(stdin, ["--rules", "durham", *AT], monkeypatch)
    assert code == 0
    assert events == []
    assert variables["IVR311_ACTION"] in {"agent", "municipality", "after_hours", "message"}
    assert variables["IVR311_DEST"] or variables["IVR311_MESSAGE"]
    for value in variables.values():
        assert len(value) <= MAX_VALUE_CHARS and value.isprintable() and '"' not in value


@pytest.mark.parametrize(
    "command", ["exec {python} -m ivr.agi.script", "exec {python} -m ivr.agi.script <&-"]
)
def test_a_channel_that_is_gone_is_logged_once(command: str) -> None:
    """Asterisk hung up before answering (empty or closed stdin): nothing to set, no trace."""
    done = subprocess.run(
        ["sh", "-c", command.format(python=sys.executable)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert [json.loads(line)["event"] for line in log_lines(done.stderr)] == ["agi.channel_lost"]
