"""The README's dialplans for ``ivr311-agi`` and for the FastAGI server never leave a caller
in silence: a crashed AGI, an AGI that failed, and a destination that does not answer all reach
the generated controller-free fallback; asterisklint finds nothing to report in them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agi_testing import MONDAY_MORNING, SUNDAY
from dialplan_testing import RENDERED_AT, asterisklint, asterisklint_findings
from readme_examples import AGI_EXAMPLE, FASTAGI_EXAMPLE, readme_dialplan

from dialplan.asterisk_conf import DIALPLAN_FILE
from dialplan.options import DialplanOptions
from dialplan.render import render_dialplan
from ivr.agi.script import AgiCall, channel_variables, decide_for_agi, failure_variables
from routing_rules.snapshot import load_snapshot

_STEP = re.compile(
    r"^\s*(?:exten => (?:\d+|s),1|same => n(?:\((?P<label>\w+)\))?),(?P<app>.*?)\s*(?:;.*)?$"
)
_CONDITION = re.compile(r'^"(?P<left>[^"]*)" (?P<op>!=|=) "(?P<right>[^"]*)"$')


@pytest.fixture(params=[AGI_EXAMPLE, FASTAGI_EXAMPLE], ids=["agi", "fastagi"])
def example(request: pytest.FixtureRequest) -> list[str]:
    """The dialplan lines of the README's example for ``ivr311-agi`` or for the FastAGI
    server, without a context line."""
    return [line for line in readme_dialplan(request.param) if not line.startswith("[")]


def walk(lines: list[str], variables: dict[str, str], dialstatus: str = "") -> list[str]:
    """The applications a call runs through the example, with its channel variables after
    ``AGI()`` (and ``DIALSTATUS`` after ``Dial()``), until it hangs up or leaves for another
    context: an interpreter of just the dialplan the example uses."""
    steps = [_STEP.match(line) for line in lines]
    assert all(steps), lines
    program = [(s["label"], s["app"]) for s in steps if s is not None]
    labels = {label: i for i, (label, _) in enumerate(program) if label}
    channel = dict(variables)
    ran: list[str] = []
    i = 0
    while i < len(program):
        app = _substitute(program[i][1], channel)
        i += 1
        name, _, args = app.partition("(")
        args = args.removesuffix(")")
        if name in ("GotoIf", "ExecIf"):
            condition, _, then = args.partition("?")
            if not _true(condition):
                continue
            if name == "GotoIf":
                i = labels[then]
                continue
            app = then
            name = app.partition("(")[0]
        ran.append(app)
        if name == "Dial":
            channel["DIALSTATUS"] = dialstatus
        if name in ("Goto", "Hangup"):
            break
    return ran


def _substitute(app: str, channel: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: channel.get(m[1], ""), app)


def _true(condition: str) -> bool:
    """``$["a" != "b" | "c" = "d"]``: the comparisons the example uses, joined by or."""
    inner = condition.removeprefix("$[").removesuffix("]")
    terms = [_CONDITION.match(term.strip()) for term in inner.split(" | ")]
    assert all(terms), condition
    return any((t["left"] == t["right"]) == (t["op"] == "=") for t in terms if t is not None)


FALLBACK = "Goto(ivr311-fallback,311,1)"
DURHAM = load_snapshot("durham")


def agi_answer(at: object, calling: str = "9056230123") -> dict[str, str]:
    decision = decide_for_agi(DURHAM, AgiCall("311", calling, at, "en"))  # type: ignore[arg-type]
    return {"AGISTATUS": "SUCCESS", **channel_variables(decision, "contact-centres")}


def test_a_crashed_agi_goes_to_the_fallback(example: list[str]) -> None:
    assert walk(example, {"AGISTATUS": "FAILURE"})[-1] == FALLBACK
    assert walk(example, {"AGISTATUS": "SUCCESS"})[-1] == FALLBACK


@pytest.mark.parametrize("rules_read", [True, False])
def test_an_agi_that_failed_goes_to_the_fallback(example: list[str], rules_read: bool) -> None:
    variables = failure_variables(DURHAM if rules_read else None, OSError("x"), "contact-centres")
    ran = walk(example, {"AGISTATUS": "SUCCESS", **variables})
    assert ran[-1] == FALLBACK
    assert not any(step.startswith("Dial(") for step in ran)


def test_a_transfer_is_announced_and_dialled_and_ends_when_answered(example: list[str]) -> None:
    ran = walk(example, agi_answer(MONDAY_MORNING), dialstatus="ANSWER")
    assert ran[-3:] == [
        "Playback(ivr311/transferring&ivr311/please-hold)",
        "Dial(PJSIP/+19055550101@contact-centres,20)",
        "Hangup()",
    ]


@pytest.mark.parametrize("status", ["BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL"])
def test_a_destination_that_does_not_answer_goes_to_the_fallback(
    example: list[str], status: str
) -> None:
    ran = walk(example, agi_answer(MONDAY_MORNING), dialstatus=status)
    assert ran[-2:] == ["Dial(PJSIP/+19055550101@contact-centres,20)", FALLBACK]


def test_after_hours_the_message_plays_before_the_after_hours_line(example: list[str]) -> None:
    ran = walk(example, agi_answer(SUNDAY), dialstatus="ANSWER")
    assert ran[-3:-1] == [
        "Playback(ivr311/after-hours&ivr311/emergency-911&ivr311/website-clarington)",
        "Dial(PJSIP/+19055550102@contact-centres,20)",
    ]


def test_a_message_only_answer_is_played_and_the_call_ends(example: list[str]) -> None:
    variables = {
        "AGISTATUS": "SUCCESS",
        "IVR311_ACTION": "message",
        "IVR311_DEST": "",
        "IVR311_MESSAGE": "ivr311/transfer-failed&ivr311/goodbye",
    }
    ran = walk(example, variables)
    assert ran[-2:] == ["Playback(ivr311/transfer-failed&ivr311/goodbye)", "Hangup()"]


def test_the_fallback_the_example_names_exists_and_asterisklint_accepts_it(
    example: list[str],
    tmp_path: Path,
) -> None:
    generated = render_dialplan(DURHAM, DialplanOptions(now=RENDERED_AT))
    fallback = generated[generated.index("[ivr311-fallback]") :]
    assert "\nexten => 311,1," in fallback[: fallback.index("\n[")]
    lint = asterisklint()
    if lint is None:
        pytest.skip("asterisklint is not installed")
    (tmp_path / DIALPLAN_FILE).write_text(generated, encoding="utf-8")
    site = ["[general]", "", "[globals]", "", "[site]", *example]
    site.append(f"\n#include {DIALPLAN_FILE}")
    (tmp_path / "extensions.conf").write_text("\n".join(site) + "\n", encoding="utf-8")
    assert asterisklint_findings(lint, tmp_path) == []
