"""What a call logs: at INFO one line per state transition and one decision record, the rest at
DEBUG, and never the full calling number at any level."""

from __future__ import annotations

import itertools
import json

from ivr_testing import Harness, LogLines, fallback_choice, menu_number

from switchsim import Outcome


async def test_info_has_each_transition_and_one_decision_record_and_no_number(
    logged: LogLines, harness: Harness
) -> None:
    number = menu_number(harness.snapshot)
    digit, transfer = fallback_choice(harness.snapshot, number)
    first, second = transfer.chain[0], transfer.chain[1]
    harness.switch.script_endpoint(first.dial, Outcome(kind="busy"))
    harness.switch.script_endpoint(second.dial, Outcome(kind="answer", press="1"))
    call_id = harness.call(number)
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, digit)
    await harness.until(lambda: bool(harness.record(call_id).bridged_with))
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"
    assert [a["result"] for a in record["attempts"]] == ["busy", "answered"]

    mine = [line for line in logged if line.get("call_id") == call_id]
    info = [line for line in mine if line["log_level"] == "info"]
    assert {line["event"] for line in info} == {"call.transition", "call.decision_record"}
    records = [n for n, line in enumerate(info) if line["event"] == "call.decision_record"]
    assert records == [len(info) - 1], "one decision record, when the call ends"
    transitions = [
        (line["from"], line["to"]) for line in info if line["event"] != "call.decision_record"
    ]
    assert transitions[0][0] == "answering" and transitions[-1][1] == "ended"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(transitions)), (
        "one line per transition, none missing, none repeated"
    )
    assert {"transferring.hold", "transferring.ringing", "bridged"} <= {t for _, t in transitions}
    assert any(line["log_level"] == "debug" for line in mine), "the detail is at DEBUG"

    assert all(line["caller"].startswith(number[:6] + "-") for line in mine)
    for line in logged:
        text = json.dumps(line, default=str)
        assert number not in text and number[3:] not in text, text
