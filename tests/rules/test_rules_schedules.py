"""Schedules in the destination's own time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing_rules.geoview import GeoLookup
from routing_rules.schedules import next_change, schedule_state
from routing_rules.schema import Schedule
from routing_rules.simulate import outcome, simulate_call
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, snapshot_from_text

WEEKDAYS_ONLY = "days: [mon, tue, wed, thu, fri]"
EVERY_DAY = "days: [mon, tue, wed, thu, fri, sat, sun]"

# (rules, local date, UTC offset of 08:29/08:31 local on that date)
DST_DAYS = [
    ("durham", "2026-03-08", -4),  # Toronto springs forward at 02:00: EDT by 08:29
    ("durham", "2026-11-01", -5),  # Toronto falls back at 02:00: EST by 08:29
    ("durham", "2026-03-09", -4),  # the Monday after: a working day
    ("durham", "2026-11-02", -5),
    ("cape-breton", "2026-03-08", -3),  # Halifax: ADT
    ("cape-breton", "2026-11-01", -4),  # Halifax: AST
    ("cape-breton", "2026-03-09", -3),
    ("cape-breton", "2026-11-02", -4),
]

INSIDE_NUMBER = {"durham": "9056230123", "cape-breton": "9022020123"}
AFTER_HOURS = {"durham": "durham-after-hours", "cape-breton": "cbrm-after-hours"}
AGENTS = {"durham": "durham-agents", "cape-breton": "cbrm-agents"}


@pytest.fixture(scope="module")
def open_every_day(geo: GeoLookup) -> dict[str, RuleSnapshot]:
    """The demo rule sets with every schedule open seven days a week (DST days are Sundays)."""
    out = {}
    for name in ("durham", "cape-breton"):
        text = (DEMO_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        assert WEEKDAYS_ONLY in text
        out[name] = snapshot_from_text(text.replace(WEEKDAYS_ONLY, EVERY_DAY), geo, source=name)
    return out


@pytest.mark.parametrize(("rules", "day", "offset"), DST_DAYS)
@pytest.mark.parametrize(("minute", "is_open"), [(29, False), (31, True)])
def test_dst_day_0829_closed_0831_open(
    open_every_day: dict[str, RuleSnapshot],
    rules: str,
    day: str,
    offset: int,
    minute: int,
    is_open: bool,
) -> None:
    snapshot = open_every_day[rules]
    # The instant is given in UTC, so the engine itself must find the local wall-clock time.
    local_wall = datetime.fromisoformat(f"{day}T08:{minute:02d}")
    at = (local_wall - timedelta(hours=offset)).replace(tzinfo=UTC)
    sim = simulate_call(snapshot, calling=INSIDE_NUMBER[rules], at=at)
    expected = AGENTS[rules] if is_open else AFTER_HOURS[rules]
    assert outcome(sim.decision)["destination"] == expected


@pytest.mark.parametrize("rules", ["durham", "cape-breton"])
def test_demo_monday_after_spring_forward(
    rules: str, durham: RuleSnapshot, cape_breton: RuleSnapshot
) -> None:
    snapshot = durham if rules == "durham" else cape_breton
    zone = ZoneInfo(snapshot.rules.schedules[snapshot.rules.host.schedule].timezone)
    before = datetime(2026, 3, 9, 8, 29, tzinfo=zone)
    after = datetime(2026, 3, 9, 8, 31, tzinfo=zone)
    calling = INSIDE_NUMBER[rules]
    assert (
        outcome(simulate_call(snapshot, calling=calling, at=before).decision)["destination"]
        == AFTER_HOURS[rules]
    )
    assert (
        outcome(simulate_call(snapshot, calling=calling, at=after).decision)["destination"]
        == AGENTS[rules]
    )


def test_neighbour_hours_in_its_own_time_zone(geo: GeoLookup) -> None:
    """A destination in another zone is open by its own clock, not the host's."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  kawartha-lakes-hours:\n    timezone: America/Toronto",
        "  kawartha-lakes-hours:\n    timezone: America/Halifax",
    )
    snapshot = snapshot_from_text(text, geo, source="kl-in-halifax")
    zone = ZoneInfo("America/Toronto")
    # 15:30 in Toronto is 16:30 in Halifax: Kawartha Lakes (09:00-16:00 its time) is closed.
    late = simulate_call(
        snapshot,
        calling="9059860123",
        at=datetime(2026, 11, 24, 15, 30, tzinfo=zone),
        presses=("2",),
    )
    assert outcome(late.decision)["action"] == "message"
    # 08:30 in Toronto is 09:30 in Halifax: open, though the Toronto-time hours would say no.
    early = simulate_call(
        snapshot,
        calling="9059860123",
        at=datetime(2026, 11, 24, 8, 30, tzinfo=zone),
        presses=("2",),
    )
    assert outcome(early.decision)["destination"] == "kawartha-lakes-cc"


SCHEDULE = Schedule.model_validate(
    {
        "timezone": "America/Halifax",
        "weekly": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "16:30"}
        ],
        "holidays": {"country": "CA", "subdivision": "NS"},
        "exceptions": [
            {"name": "storm", "start": "2026-02-10T08:00:00", "end": "2026-02-11T12:00:00"},
            {
                "name": "open house",
                "start": "2026-02-14T10:00:00",
                "end": "2026-02-14T14:00:00",
                "open": True,
            },
        ],
        "emergency_override": {
            "active": True,
            "reason": "flood",
            "expires": "2026-06-01T00:00:00-03:00",
        },
    }
)


def test_order_override_first_then_exceptions_then_holidays_then_hours() -> None:
    zone = ZoneInfo("America/Halifax")
    override = schedule_state("s", SCHEDULE, datetime(2026, 2, 10, 10, tzinfo=zone))
    assert (override.open, override.rule) == (False, "schedules.s.emergency_override")
    after_override = SCHEDULE.model_copy(update={"emergency_override": None})
    storm = schedule_state("s", after_override, datetime(2026, 2, 10, 10, tzinfo=zone))
    assert (storm.open, storm.rule) == (False, "schedules.s.exceptions[0]")
    saturday_open_house = schedule_state(
        "s", after_override, datetime(2026, 2, 14, 11, tzinfo=zone)
    )
    assert (saturday_open_house.open, saturday_open_house.rule) == (
        True,
        "schedules.s.exceptions[1]",
    )
    heritage_day = schedule_state("s", after_override, datetime(2026, 2, 16, 10, tzinfo=zone))
    assert (heritage_day.open, heritage_day.rule) == (False, "schedules.s.holidays")
    assert "Heritage Day" in heritage_day.reason
    normal = schedule_state("s", after_override, datetime(2026, 2, 17, 10, tzinfo=zone))
    assert (normal.open, normal.rule) == (True, "schedules.s.weekly[0]")


def test_override_expires() -> None:
    zone = ZoneInfo("America/Halifax")
    assert not schedule_state("s", SCHEDULE, datetime(2026, 5, 29, 10, tzinfo=zone)).open
    assert schedule_state("s", SCHEDULE, datetime(2026, 6, 1, 10, tzinfo=zone)).open


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.sampled_from(
            [
                UTC,
                ZoneInfo("America/Toronto"),
                ZoneInfo("America/Vancouver"),
                ZoneInfo("Asia/Tokyo"),
            ]
        ),
    )
)
def test_verdict_depends_on_the_instant_not_its_time_zone(moment: datetime) -> None:
    plain = SCHEDULE.model_copy(update={"emergency_override": None})
    verdicts = {
        schedule_state("s", plain, moment.astimezone(ZoneInfo(zone))).open
        for zone in ("UTC", "America/Halifax", "Europe/Paris")
    }
    assert len(verdicts) == 1


@pytest.mark.parametrize(
    "start",
    [
        "2026-02-09T12:00:00",  # Monday, open; a storm closes the office the next morning
        "2026-02-11T09:00:00",  # in the storm, which ends at noon
        "2026-02-13T17:00:00",  # Friday evening: the Saturday open house comes first
        "2026-05-31T23:00:00",  # the override expires at midnight, then the weekly hours
        "2026-10-31T18:00:00",  # over the end of daylight-saving time
    ],
)
def test_next_change_is_the_first_minute_the_state_flips(start: str) -> None:
    zone = ZoneInfo("America/Halifax")
    at = datetime.fromisoformat(start).replace(tzinfo=zone)
    state = schedule_state("s", SCHEDULE, at).open
    change = next_change("s", SCHEDULE, at)
    assert change is not None
    moment, new_state = change
    assert new_state.open != state
    assert schedule_state("s", SCHEDULE, moment).open != state
    minute = at + timedelta(minutes=1)
    while minute < moment:
        assert schedule_state("s", SCHEDULE, minute).open == state, minute
        minute += timedelta(minutes=1)


def test_no_next_change_when_always_open_or_closed_until_further_notice() -> None:
    at = datetime(2026, 2, 9, 12, tzinfo=UTC)
    always = Schedule.model_validate({"timezone": "America/Halifax", "always_open": True})
    assert next_change("s", always, at) is None
    flood = {"active": True, "reason": "flood", "expires": None}
    closed = Schedule.model_validate({**SCHEDULE.model_dump(), "emergency_override": flood})
    assert next_change("s", closed, at) is None
