"""The plan of a transfer the dialplan carries out, and the marks it leaves: what the controller
writes survives as dialplan arguments, and whatever the caller's channel carries reads back
as marks or nothing, never an exception."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dialplan.transfer_plan import (
    WHISPER_CONTEXT,
    Mark,
    PlanLink,
    TransferPlan,
    dial_arguments,
    parse_outcome,
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
