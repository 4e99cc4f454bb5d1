"""Callers hear a municipality's website read out where the rules say, in their language.

The Durham demo reads Pickering's website after hours and before a transfer, the other members'
after hours, and Service Durham's when a transfer failed.
"""

from __future__ import annotations

from ivr_testing import Harness, inside_number, menu_number

from switchsim import Outcome

CLARINGTON = "9056230123"
"""Bowmanville: every caller from this exchange lives in Clarington."""
PICKERING_CITY_HALL = (43.8384, -79.0868)


def websites(heard: list[str]) -> list[str]:
    return [p for p in heard if p.startswith("website-")]


async def test_after_hours_a_resident_hears_their_municipality_s_website(
    harness: Harness,
) -> None:
    harness.clock[0] = harness.clock[0].replace(hour=22)
    call_id = harness.call(CLARINGTON)
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    heard = harness.heard(call_id)
    assert heard[heard.index("after-hours") :][:3] == [
        "after-hours",
        "emergency-911",
        "website-clarington",
    ]
    assert websites(heard) == ["website-clarington"]
    leg = harness.record(caller.bridged_with[0])
    assert leg.endpoint == "PJSIP/+19055550102@contact-centres", "then the after-hours line"


async def test_after_hours_a_located_caller_hears_pickering_dot_ca(harness: Harness) -> None:
    harness.clock[0] = harness.clock[0].replace(hour=22)
    call_id = harness.call(menu_number(harness.snapshot), location=PICKERING_CITY_HALL)
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    assert websites(harness.heard(call_id)) == ["website-pickering"]


async def test_before_a_transfer_to_pickering_the_caller_hears_its_website(
    harness: Harness,
) -> None:
    call_id = harness.call(menu_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, "2")  # Ajax-Pickering: 1 Ajax, 2 Pickering
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    heard = harness.heard(call_id)
    website = heard.index("website-pickering")
    assert heard[website + 1] == "transferring", "read out just before the transfer"
    assert websites(heard) == ["website-pickering"]
    assert harness.record(caller.bridged_with[0]).endpoint == "PJSIP/+19055550110@contact-centres"


async def test_a_french_caller_hears_the_website_in_french(harness: Harness) -> None:
    call_id = harness.call(menu_number(harness.snapshot))
    await harness.skip_greeting(call_id, key="9")  # the French language key
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, "2")
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    website = next(p for p in caller.plays if "sound:ivr311/website-pickering" in p.media)
    assert website.lang == "fr_CA"


async def test_a_transfer_elsewhere_reads_out_no_website(harness: Harness) -> None:
    call_id = harness.call(menu_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    await harness.until(lambda: "menu-intro" in harness.heard(call_id))
    harness.switch.press(call_id, "1")  # Ajax: its website is read out after hours only
    caller = harness.record(call_id)
    await harness.until(lambda: bool(caller.bridged_with))
    harness.switch.hangup_caller(call_id)
    await harness.ended(call_id)
    heard = harness.heard(call_id)
    assert "transferring" in heard
    assert websites(heard) == []


async def test_when_every_link_fails_the_host_s_website_comes_before_goodbye(
    harness: Harness,
) -> None:
    harness.switch.default_outcome = Outcome(kind="busy", after_s=0.02)
    call_id = harness.call(inside_number(harness.snapshot))
    await harness.skip_greeting(call_id)
    caller = harness.record(call_id)
    await harness.until(lambda: caller.destroyed)
    heard = harness.heard(call_id)
    assert heard[-2:] == ["website-durham", "goodbye"]
    assert websites(heard) == ["website-durham"]
    assert heard.index("transfer-failed") < heard.index("website-durham")
