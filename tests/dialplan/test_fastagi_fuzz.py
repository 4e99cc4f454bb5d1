"""Fuzzing the FastAGI server against ``ivr311-agi``: the mutated AGI environments and
arguments of ``test_agi_fuzz`` sent to both. Where ``ivr311-agi`` sets variables, the server
sets the same ones (a line longer than the server takes excepted: that connection is closed);
where Asterisk went away before the environment ended, the server closes the connection
without a command. The server keeps serving throughout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import uvloop
from agi_testing import agi_in_process
from fastagi_testing import argument_lines, closed_without_commands, request, server_in_thread
from fuzzing import fuzz_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structured_log import production_log
from test_agi_fuzz import agi_inputs

from ivr.agi import script
from ivr.agi.fastagi import FastAgiServer, Limits
from routing_rules.snapshot import RuleSnapshot, load_snapshot

LIMITS = Limits()


@pytest.fixture(scope="module")
def durham() -> RuleSnapshot:
    return load_snapshot("durham")


@pytest.fixture(scope="module")
def server(durham: RuleSnapshot) -> Iterator[FastAgiServer]:
    """On uvloop, as ``ivr311 fastagi`` runs (the behaviour tests run on both loops)."""
    with server_in_thread(lambda: durham, LIMITS, uvloop.new_event_loop) as running:
        yield running


def without_rule_options(argv: list[str]) -> list[str]:
    """The arguments both accept: ``--rules``/``--database`` (and their values) are the
    script's way to name rules, and wrong arguments to the server."""
    kept: list[str] = []
    skip = False
    for word in argv:
        if skip or word in {"--rules", "--database"}:
            skip = word in {"--rules", "--database"}
            continue
        kept.append(word)
    return kept


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=agi_inputs(), language=st.sampled_from([(), ("--language", "fr")]))
def test_the_server_answers_as_ivr311_agi_does(
    case: tuple[bytes, list[str], bool],
    language: tuple[str, ...],
    server: FastAgiServer,
    durham: RuleSnapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fuzz_case("fastagi")
    stdin, argv, asterisk_stays = case
    arguments = [*without_rule_options(argv), *language]
    assert server.port is not None
    sent = argument_lines(arguments) + stdin
    too_long = any(len(line) > LIMITS.max_line_bytes for line in sent.split(b"\n"))
    with production_log() as events:
        if not asterisk_stays or too_long:
            assert closed_without_commands(server.port, sent, half_close=not asterisk_stays)
        else:
            got = request(server.port, sent).variables
    if too_long:
        assert "fastagi.line_too_long" in [e["event"] for e in events]
    if not asterisk_stays or too_long:
        return
    monkeypatch.setattr(script, "load_rules", lambda *_: durham)  # the same rules for both
    code, expected = agi_in_process(stdin, arguments, monkeypatch)
    assert code == 0
    assert list(got.items()) == list(expected.items())
    failures = [e["event"] for e in events if e["level"] == "error"]
    assert failures == (["fastagi.failed"] if got["IVR311_ACTION"] == "error" else [])
