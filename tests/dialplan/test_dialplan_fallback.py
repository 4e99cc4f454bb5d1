"""What the generated dialplan does with a call when the controller is not there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from dialplan_testing import RENDERED_AT, parse_dialplan, snapshot_of
from hypothesis import given
from hypothesis import strategies as st

from dialplan.options import DialplanOptions
from dialplan.render import number_forms, render_dialplan
from dialplan.schedule import closed_days
from routing_rules.schema import Schedule
from routing_rules.simulate import outcome, parse_presses, simulate_call
from routing_rules.snapshot import RuleSnapshot, load_snapshot

_GOTO = re.compile(r"(?:Goto|Gosub)\(([a-z0-9-]+),([^,()]+),1\)")


def rendered(
    snapshot: RuleSnapshot, now: datetime = RENDERED_AT
) -> dict[str, dict[str, list[str]]]:
    return parse_dialplan(render_dialplan(snapshot, DialplanOptions(now=now)))


def unknown_caller_goes_to(snapshot: RuleSnapshot) -> str | None:
    """The municipality the fallback routes an unplaceable caller as (``None``: host agents)."""
    last = rendered(snapshot)["ivr311-fallback-call"]["s"][-1]
    if last == "Goto(ivr311-fallback-call,host-agents,1)":
        return None
    return last.removeprefix("Goto(ivr311-municipality,").removesuffix(",1)")


def test_every_host_number_is_answered_enters_the_controller_then_the_fallback() -> None:
    snapshot = load_snapshot("durham")
    plan = rendered(snapshot)
    for number in snapshot.rules.host.numbers:
        for form in number_forms(number.number):
            steps = plan["ivr311-inbound"][form]
            stasis = steps.index(f"Stasis(ivr311,inbound,{number.number})")
            assert steps[stasis - 1] == "Answer()"  # the controller need not answer
            after = steps[stasis + 1]
            assert after == (
                f'GotoIf($["${{STASISSTATUS}}" != "SUCCESS"]?ivr311-fallback,{number.number},1)'
            )
            assert number.number in plan["ivr311-fallback"]


def test_a_bowmanville_caller_is_routed_to_clarington() -> None:
    plan = rendered(load_snapshot("durham"))
    assert plan["ivr311-npa-nxx"]["905623"] == ["Goto(ivr311-exchange,bowmanville,1)"]
    assert plan["ivr311-exchange"]["bowmanville"][-1] == "Goto(ivr311-municipality,clarington,1)"
    # Clarington has no contact centre of its own in the demo: Service Durham's agents answer.
    assert plan["ivr311-municipality"]["clarington"][-1] == "Goto(ivr311-chain,durham-agents,1)"


def test_a_shared_exchange_goes_to_the_host_agents_when_that_is_the_menu_default() -> None:
    plan = rendered(load_snapshot("durham"))
    assert (
        plan["ivr311-exchange"]["ajax-pickering"][-1] == "Goto(ivr311-fallback-call,host-agents,1)"
    )


def test_a_shared_exchange_takes_the_largest_share_when_that_is_the_menu_default() -> None:
    def largest(data: dict[str, Any]) -> None:
        data["overlap_policy"]["default_choice"] = "largest-share"

    plan = rendered(snapshot_of("durham", largest))
    assert plan["ivr311-exchange"]["ajax-pickering"][-1] == "Goto(ivr311-municipality,ajax,1)"


def test_an_unplaceable_caller_follows_the_unknown_caller_policy() -> None:
    assert unknown_caller_goes_to(load_snapshot("durham")) is None
    assert unknown_caller_goes_to(load_snapshot("cape-breton")) is None

    def one_member(data: dict[str, Any]) -> None:
        data["municipalities"] = [
            m for m in data["municipalities"] if m["id"] == "clarington" or m["role"] != "member"
        ]
        kept = {m["id"] for m in data["municipalities"]}
        data["arrangements"] = [a for a in data["arrangements"] if a["municipality"] in kept]

    assert unknown_caller_goes_to(snapshot_of("durham", one_member)) == "clarington"


def test_every_jump_lands_on_an_extension_that_exists() -> None:
    for name in ("durham", "cape-breton"):
        plan = rendered(load_snapshot(name))
        for context, extensions in plan.items():
            for steps in extensions.values():
                for step in steps:
                    for target_context, target_exten in _GOTO.findall(step):
                        if "${" in target_exten:
                            continue
                        assert target_exten in plan[target_context], (context, step)


def test_an_arrangement_routes_only_between_its_dates() -> None:
    plan = rendered(load_snapshot("durham"))
    pickering = plan["ivr311-municipality"]["pickering"]
    assert (
        "GotoIf($[${IVR311_DAY} >= 20210601 & ${IVR311_DAY} <= 20270115]"
        "?ivr311-chain,pickering-ccc,1)"
    ) in pickering
    assert pickering[-1] == "Goto(ivr311-chain,durham-agents,1)"


def test_the_chain_skips_closed_links_and_ends_with_the_number_to_call() -> None:
    plan = rendered(load_snapshot("durham"))
    chain = plan["ivr311-chain"]["pickering-ccc"]
    dials = [s for s in chain if s.startswith("Dial(")]
    assert dials == [
        "Dial(PJSIP/+19055550110@contact-centres,20)",
        "Dial(PJSIP/+19055550101@contact-centres,20)",
    ]
    *_, callback, website, goodbye, hangup = chain
    spoken = callback.removeprefix("Playback(").removesuffix(")").split("&")
    digits = "".join(p.removeprefix("ivr311/digit-") for p in spoken if "digit-" in p)
    assert spoken[0] == "ivr311/transfer-failed"
    assert digits == "9055550110"
    assert website.startswith("GosubIf(") and "ivr311-website" in website
    assert (goodbye, hangup) == ("Playback(ivr311/goodbye)", "Hangup()")


def test_after_hours_plays_the_message_then_dials_the_after_hours_line() -> None:
    plan = rendered(load_snapshot("durham"))
    closed = plan["ivr311-fallback-call"]["closed"]
    assert "Playback(ivr311/after-hours&ivr311/emergency-911)" in closed
    assert closed[-1] == "Goto(ivr311-chain,durham-after-hours,1)"


def test_an_emergency_override_plays_its_own_message_and_destination() -> None:
    def override(data: dict[str, Any]) -> None:
        data["schedules"]["durham-hours"]["emergency_override"] = {
            "active": True,
            "reason": "storm",
            "destination": "durham-agents",
        }

    plan = rendered(snapshot_of("durham", override))
    assert plan["ivr311-schedule"]["durham-hours"][2] == "Goto(override)"
    steps = plan["ivr311-fallback-call"]["override"]
    assert "Playback(ivr311/override&ivr311/emergency-911)" in steps
    assert steps[-1] == "Goto(ivr311-chain,durham-agents,1)"


def test_an_override_that_expired_before_rendering_is_left_out() -> None:
    def expired(data: dict[str, Any]) -> None:
        data["schedules"]["durham-hours"]["emergency_override"] = {
            "active": True,
            "reason": "storm",
            "expires": RENDERED_AT - timedelta(hours=1),
        }

    plan = rendered(snapshot_of("durham", expired))
    assert not any("override" in s for s in plan["ivr311-schedule"]["durham-hours"][:3])


def test_exceptions_compare_the_instant_and_past_ones_are_dropped() -> None:
    christmas_eve = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)  # 12:00 in Toronto
    steps = rendered(load_snapshot("durham"))["ivr311-schedule"]["durham-hours"]
    start = int(christmas_eve.timestamp())
    assert any(f"${{EPOCH}} >= {start} " in s and s.endswith("?closed)") for s in steps)
    later = rendered(load_snapshot("durham"), now=datetime(2027, 1, 2, tzinfo=UTC))
    assert not any(f"{start}" in s for s in later["ivr311-schedule"]["durham-hours"])


def test_statutory_holidays_and_extra_closures_are_closed_days() -> None:
    plan = rendered(load_snapshot("durham"))
    closed = plan["ivr311-closed-durham-hours"]
    assert "20261225" in closed  # Christmas Day
    assert "20270326" in closed  # Good Friday 2027
    assert "20261231" in closed  # the Region's own closure
    assert "20300701" in closed and "20310101" not in closed  # five years from 2026


def test_the_caller_id_is_the_host_number_when_the_rules_say_so() -> None:
    plan = rendered(load_snapshot("cape-breton"))
    assert "Set(CALLERID(num)=+19025550100)" in plan["ivr311-chain"]["cbrm-agents"]


def test_the_fallback_speaks_the_rule_set_default_language() -> None:
    def french(data: dict[str, Any]) -> None:
        data["languages"]["default"] = "fr"

    plan = rendered(snapshot_of("durham", french))
    assert plan["ivr311-fallback-call"]["s"][0] == "Set(CHANNEL(language)=fr_CA)"


def test_closed_days_cover_the_years_asked_for() -> None:
    schedule = Schedule.model_validate(
        {
            "timezone": "America/Halifax",
            "weekly": [{"days": ["mon"], "open": "09:00", "close": "17:00"}],
            "holidays": {"country": "CA", "subdivision": "NS"},
        }
    )
    years = {d.day.year for d in closed_days(schedule, 2027, 3)}
    assert years == {2027, 2028, 2029}


_WEEKLY = re.compile(r"GotoIfTime\((\d\d):(\d\d)-(\d\d):(\d\d),")


@given(
    opens=st.integers(min_value=0, max_value=23 * 60 + 58),
    length=st.integers(min_value=1, max_value=24 * 60),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_weekly_hours_include_the_opening_minute_and_exclude_the_closing_one(
    opens: int, length: int, minute: int
) -> None:
    closes = min(opens + length, 23 * 60 + 59)
    open_at, close_at = time(opens // 60, opens % 60), time(closes // 60, closes % 60)

    def hours(data: dict[str, Any]) -> None:
        data["schedules"]["durham-hours"]["weekly"] = [
            {"days": ["mon"], "open": f"{open_at:%H:%M}", "close": f"{close_at:%H:%M}"}
        ]

    steps = rendered(snapshot_of("durham", hours))["ivr311-schedule"]["durham-hours"]
    match = next(m for m in map(_WEEKLY.search, steps) if m)
    first = int(match[1]) * 60 + int(match[2])
    last = int(match[3]) * 60 + int(match[4])
    assert (first <= minute <= last) == (opens <= minute < closes)


@pytest.mark.parametrize("unknown", ["member-menu", "host-agents"])
@pytest.mark.parametrize("default", ["host-agents", "largest-share"])
@pytest.mark.parametrize("limit", [4, 8])
def test_the_fallback_routes_an_unknown_caller_as_the_engine_does(
    unknown: str, default: str, limit: int
) -> None:
    def policy(data: dict[str, Any]) -> None:
        data["overlap_policy"].update(
            unknown_caller=unknown, default_choice=default, max_menu_options=limit
        )

    snapshot = snapshot_of("durham", policy)
    # The fallback has no menus: it takes what a caller who never chooses gets.
    silent = ",".join(["t"] * snapshot.rules.overlap_policy.max_attempts)
    sim = simulate_call(
        snapshot, calling="anonymous", at=RENDERED_AT, presses=parse_presses([silent])
    )
    engine = outcome(sim.decision)
    assert engine["action"] in ("agent", "transfer")
    assert unknown_caller_goes_to(snapshot) == engine["municipality"]
