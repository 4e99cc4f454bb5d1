"""The plan of a transfer the dialplan carries out, and the marks it leaves: what the controller
writes survives as dialplan arguments and reads back as written, anything else is refused
with what is wrong in it, and whatever the caller's channel carries reads back as marks or
nothing, never an exception."""

from __future__ import annotations

import json
import math

import pytest
from fuzzing import fuzz_case
from hypothesis import given, settings
from hypothesis import strategies as st

from dialplan.transfer_plan import (
    WHISPER_CONTEXT,
    DialArguments,
    Mark,
    PlanLink,
    TransferPlan,
    dial_arguments,
    parse_outcome,
    read_dial_arguments,
    sounds,
)
from ivr.call import CallState, SavedCall
from routing_rules.decision import PromptRef

PLAN = TransferPlan(
    announce="en/ivr311/transferring&en/ivr311/please-hold",
    links=(
        PlanLink(
            "PJSIP/+19055550101@contact-centres,20,gmU(ivr311-whisper)",
            "en/ivr311/a",
            "1",
            "durham-agents",
        ),
        PlanLink("PJSIP/+19055550102@contact-centres,25,gmU(ivr311-whisper)", "en/ivr311/b", ""),
    ),
    final_message="en/ivr311/call-back",
    accept_timeout_s=15.0,
    kind="municipality",
)


def test_sounds_name_each_prompt_with_its_language() -> None:
    prompts = (PromptRef("greeting", "en"), PromptRef("language-offer", "fr_CA"))
    assert sounds(prompts) == "en/ivr311/greeting&fr_CA/ivr311/language-offer"
    assert sounds(()) == ""


def test_say_media_cannot_be_played_by_the_dialplan() -> None:
    assert sounds((PromptRef("greeting", "en"), PromptRef("digits:311", "en"))) is None


def test_dial_arguments_carry_music_whisper_and_caller_id() -> None:
    args = dial_arguments("PJSIP/+19055550101@contact-centres", 19.2, "default", "+19055550100")
    assert args == (
        f"PJSIP/+19055550101@contact-centres,20,gm(default)f(+19055550100)U({WHISPER_CONTEXT})"
    )
    assert dial_arguments("PJSIP/x@y", 0.2, None, "") == f"PJSIP/x@y,1,gmU({WHISPER_CONTEXT})"


@given(st.text(min_size=1, max_size=30))
def test_a_value_that_would_change_the_dial_is_refused(value: str) -> None:
    args = dial_arguments(f"PJSIP/{value}@contact-centres", 20, "default", "")
    if any(c in value for c in ",()|\"'`${}[]\\\n\r&"):
        assert args is None
    else:
        assert args is not None
        assert args.split(",")[0] == f"PJSIP/{value}@contact-centres"


_ARGUMENT_TEXT = st.text(st.characters(exclude_characters=",()|\"'`${}[]\\\n\r&"), max_size=12)
"""Values `dial_arguments` takes."""
DIAL_VALUES = st.tuples(
    _ARGUMENT_TEXT.filter(bool),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none() | _ARGUMENT_TEXT,
    _ARGUMENT_TEXT,
)


@settings(max_examples=300)
@given(DIAL_VALUES)
def test_dial_arguments_read_back_as_written(values: tuple[str, float, str | None, str]) -> None:
    fuzz_case("dial-arguments")
    dial_string, ring_timeout_s, moh_class, caller_id = values
    written = dial_arguments(dial_string, ring_timeout_s, moh_class, caller_id)
    assert written is not None
    assert read_dial_arguments(written) == DialArguments(
        dial_string, max(1, math.ceil(ring_timeout_s)), moh_class or None, caller_id
    )


def test_dial_arguments_read_as_the_link_was_made() -> None:
    assert read_dial_arguments(
        f"PJSIP/+19055550101@contact-centres,20,gm(default)f(+19055550100)U({WHISPER_CONTEXT})"
    ) == DialArguments("PJSIP/+19055550101@contact-centres", 20, "default", "+19055550100")
    assert read_dial_arguments(PLAN.links[1].dial) == DialArguments(
        "PJSIP/+19055550102@contact-centres", 25, None, ""
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "not dial string, timeout and options"),
        ("PJSIP/x@y,20", "not dial string, timeout and options"),
        (f"PJSIP/x@y,20,gmU({WHISPER_CONTEXT}),x", "not dial string, timeout and options"),
        (f",20,gmU({WHISPER_CONTEXT})", "dial string ''"),
        (f"PJSIP/x@y&PJSIP/z@y,20,gmU({WHISPER_CONTEXT})", "dial string 'PJSIP/x@y&PJSIP/z@y'"),
        (f"PJSIP/x@y,,gmU({WHISPER_CONTEXT})", "ring timeout ''"),
        (f"PJSIP/x@y,0,gmU({WHISPER_CONTEXT})", "ring timeout '0'"),
        (f"PJSIP/x@y,2.5,gmU({WHISPER_CONTEXT})", "ring timeout '2.5'"),
        (f"PJSIP/x@y,-3,gmU({WHISPER_CONTEXT})", "ring timeout '-3'"),
        ("PJSIP/x@y,20,", "options ''"),
        ("PJSIP/x@y,20,gmU(elsewhere)", "options 'gmU(elsewhere)'"),
        (f"PJSIP/x@y,20,gU({WHISPER_CONTEXT})", f"options 'gU({WHISPER_CONTEXT})'"),
        (f"PJSIP/x@y,20,gm()U({WHISPER_CONTEXT})", f"options 'gm()U({WHISPER_CONTEXT})'"),
        (f"PJSIP/x@y,20,gm($x)U({WHISPER_CONTEXT})", f"options 'gm($x)U({WHISPER_CONTEXT})'"),
        (f"PJSIP/x@y,20,gmU({WHISPER_CONTEXT})r", f"options 'gmU({WHISPER_CONTEXT})r'"),
    ],
)
def test_other_dial_arguments_are_refused_naming_what_is_wrong(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=r"^Dial\(\) arguments ") as refused:
        read_dial_arguments(text)
    assert repr(text) in str(refused.value) and named in str(refused.value)


@st.composite
def dial_arguments_changed(draw: st.DrawFn) -> str:
    """Dial arguments as written, then with one character taken out, put in or replaced."""
    written = dial_arguments(*draw(DIAL_VALUES))
    assert written is not None
    at = draw(st.integers(0, len(written)))
    cut = draw(st.integers(0, 1))
    return written[:at] + draw(st.text(max_size=1)) + written[at + cut :]


@settings(max_examples=300)
@given(st.text(max_size=60) | dial_arguments_changed())
def test_dial_arguments_are_read_as_written_or_refused(text: str) -> None:
    """What reads is what `dial_arguments` writes from the values read; anything else is a
    ValueError that names the text."""
    fuzz_case("dial-arguments")
    try:
        read = read_dial_arguments(text)
    except ValueError as refused:
        assert repr(text) in str(refused)
        return
    values = (read.dial_string, read.ring_timeout_s, read.moh_class, read.caller_id)
    assert dial_arguments(*values) == text


def test_a_plan_reads_back_as_written() -> None:
    data = json.loads(json.dumps(PLAN.as_json()))
    assert TransferPlan.from_json(data) == PLAN
    assert TransferPlan.from_json({"a": ""}) is None
    assert TransferPlan.from_json(["a"]) is None
    assert TransferPlan.from_json({**data, "n": "elsewhere"}) is None


def test_the_saved_state_carries_the_plan() -> None:
    saved = SavedCall(CallState.TRANSFER_HOLD, 3, "311", "en", True, (), 2, None, PLAN)
    assert SavedCall.decode(saved.encode()) == saved
    broken = json.loads(saved.encode())
    broken["t"] = {"c": 1}
    assert SavedCall.decode(json.dumps(broken)) is None


def test_marks_are_read_in_order() -> None:
    raw = (
        "h:1765000000.100 d:0:1765000000.500 e:0:BUSY:17:1765000001.000 "
        "d:1:1765000001.010 a:1:1765000003.000 w:1:1765000005.000 k:1:1765000006.5"
    )
    assert parse_outcome(raw) == [
        Mark("h", 1765000000.1),
        Mark("d", 1765000000.5, 0),
        Mark("e", 1765000001.0, 0, "BUSY", 17),
        Mark("d", 1765000001.01, 1),
        Mark("a", 1765000003.0, 1),
        Mark("w", 1765000005.0, 1),
        Mark("k", 1765000006.5, 1),
    ]


def test_a_dial_that_left_no_cause_reads_as_none() -> None:
    assert parse_outcome("e:2:CHANUNAVAIL::12.5") == [Mark("e", 12.5, 2, "CHANUNAVAIL", None)]


@given(st.text(max_size=200))
def test_anything_on_the_channel_reads_as_marks_or_nothing(raw: str) -> None:
    for mark in parse_outcome(raw):
        assert mark.at >= 0
        assert mark.link is None or mark.link >= 0


def test_broken_marks_are_skipped() -> None:
    raw = "d:x:1 d:-1:2 q:1 h:nan h:inf e:0:BUSY:17 m:-3 z:4 "
    assert parse_outcome(raw) == [Mark("z", 4.0)]
