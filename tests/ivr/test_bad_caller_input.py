"""Whatever the carrier delivers as the calling number and whatever keys a caller mashes, the
call goes on to a person or a message: no crash, no silence, nothing logged as an error, and a
key flood stays bounded."""

from __future__ import annotations

import pytest
from ivr_testing import Harness, LogLines, inside_number, menu_number

GARBAGE_NUMBERS = [
    "",
    "anonymous",
    "Restricted",
    "<script>alert(1)</script>",
    "9" * 5000,
    "☎ 905 623 0123",
    "\x00\x01\x7f",
    "+1 (905) 623-0123 ext. 5",
    "*#ABCD",
    "   ",
    "+" + "1" * 40,
]
ALL_KEYS = "0123456789*#ABCD"


def errors(logged: LogLines) -> list[str]:
    return [str(line["event"]) for line in logged if line["log_level"] in ("error", "critical")]


@pytest.mark.parametrize("calling", GARBAGE_NUMBERS)
async def test_any_calling_number_reaches_a_person(
    harness: Harness, logged: LogLines, calling: str
) -> None:
    call_id = harness.call(calling)
    await harness.skip_greeting(call_id, "5")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(call_id)
    record = await harness.ended(call_id)
    assert record["outcome"] == "completed"
    assert errors(logged) == []
    if len(calling.strip()) > 8:
        assert all(calling not in str(line) for line in logged), "a calling number was logged"


@pytest.mark.parametrize(
    ("dialled", "location"),
    [
        ("", None),
        ("*#", None),
        ("9" * 1000, None),
        ("311", "999,999"),
        ("311", "nan,nan"),
        ("311", "1e308,-1e308"),
        ("311", "43.9"),
        ("311", "43.9,-79.1,5"),
        ("311", "\u202e,\x00"),
    ],
)
async def test_any_dialled_number_or_location_reaches_a_person(
    harness: Harness, logged: LogLines, dialled: str, location: str | None
) -> None:
    variables = {"IVR311_LOCATION": location} if location is not None else {}
    call_id = harness.switch.place_call(dialled, "9056230123", variables=variables)
    await harness.skip_greeting(call_id, "5")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(call_id)
    assert (await harness.ended(call_id))["outcome"] == "completed"
    assert errors(logged) == []


@pytest.mark.parametrize("during", ["greeting", "menu"])
async def test_a_key_flood_neither_crashes_the_call_nor_leaves_it_silent(
    harness: Harness, logged: LogLines, during: str
) -> None:
    flooded = harness.call(menu_number(harness.snapshot))
    other = harness.call(inside_number(harness.snapshot))
    await harness.in_greeting(flooded)
    if during == "menu":
        harness.switch.press(flooded, "5")
        await harness.until(harness.state_is(flooded, "menu"))
    harness.switch.press(flooded, ALL_KEYS * 40)  # 640 keys at once, unknown ones included
    caller = harness.record(flooded)
    await harness.until(lambda: bool(caller.bridged_with))
    assert harness.metric("ivr311_dtmf_dropped_total") > 0

    await harness.skip_greeting(other, "5")  # the flood did not hold up another caller
    await harness.until(lambda: bool(harness.record(other).bridged_with))
    for call_id in (flooded, other):
        harness.switch.hangup_caller(call_id)
        assert (await harness.ended(call_id))["outcome"] == "completed"
    assert errors(logged) == []
