"""The FastAGI server's answers kept per NPA-NXX and minute: every caller gets what deciding
for that caller gives, and nothing is kept when a schedule changes within a minute."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from agi_testing import MONDAY_MORNING, SUNDAY
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.agi.kept_answers import KeptAnswers, changes_on_whole_minutes
from ivr.agi.script import answer, arguments_parser, parse_arguments
from routing_rules.schema import ExceptionalPeriod
from routing_rules.snapshot import RuleSnapshot, default_geo, load_snapshot

PARSER = arguments_parser("AGI(agi://...)", rules_options=False)
DURHAM_CODES = sorted(
    code
    for code in default_geo().codes()  # type: ignore[attr-defined]
    if code.startswith("905")
)[:6]
"""A few NPA-NXX codes, so that most callers share one with another."""


@pytest.fixture(scope="module")
def durham() -> RuleSnapshot:
    return load_snapshot("durham")


def env(calling: str) -> dict[str, str]:
    return {"agi_callerid": calling, "agi_extension": "311", "agi_dnid": "311"}


def variables_of(
    kept: KeptAnswers, snapshot: RuleSnapshot, calling: str, argv: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(kept answer, answer decided afresh) for one caller."""
    args, refused = parse_arguments(PARSER, argv)
    assert refused is None
    fresh = answer(env(calling), args, lambda: snapshot).variables
    return kept.answer(env(calling), args, lambda: snapshot).variables, fresh


@settings(max_examples=60)
@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from(DURHAM_CODES),
            st.integers(0, 9999),
            st.integers(0, 59),
            st.sampled_from([[], ["--language", "fr"]]),
        ),
        min_size=2,
        max_size=12,
    ),
    moment=st.sampled_from([MONDAY_MORNING, SUNDAY, MONDAY_MORNING.replace(hour=16, minute=59)]),
)
def test_callers_of_one_npa_nxx_in_one_minute_get_what_deciding_for_each_gives(
    calls: list[tuple[str, int, int, list[str]]], moment: datetime, durham: RuleSnapshot
) -> None:
    kept = KeptAnswers()
    for code, line, second, language in calls:
        when = moment + timedelta(seconds=second)
        argv = ["311", "--at", when.isoformat(), *language]
        got, expected = variables_of(kept, durham, f"{code}{line:04d}", argv)
        assert list(got.items()) == list(expected.items())


def test_a_schedule_changing_within_a_minute_keeps_no_answer(durham: RuleSnapshot) -> None:
    """The host closes at 10:00:30 for an hour: a caller at 10:00:10 reaches Clarington's
    agents, a caller of the same NPA-NXX at 10:00:40 hears the after-hours answer."""
    rules = durham.rules
    host = rules.schedules[rules.host.schedule]
    closed = ExceptionalPeriod(
        name="drill",
        start=MONDAY_MORNING + timedelta(seconds=30),
        end=MONDAY_MORNING + timedelta(hours=1),
    )
    schedules = dict(rules.schedules)
    schedules[rules.host.schedule] = host.model_copy(update={"exceptions": [closed]})
    changed = RuleSnapshot.build(
        rules.model_copy(update={"schedules": schedules}),
        durham.geo,
        version=None,
        content_hash="drill",
        source="test:drill",
    )
    assert changes_on_whole_minutes(durham.rules)
    assert not changes_on_whole_minutes(changed.rules)
    kept = KeptAnswers()
    actions = []
    for second, line in ((10, "0123"), (40, "0456")):
        argv = ["311", "--at", (MONDAY_MORNING + timedelta(seconds=second)).isoformat()]
        got, expected = variables_of(kept, changed, f"905623{line}", argv)
        assert got == expected
        actions.append(got["IVR311_ACTION"])
    assert actions[0] == "agent" and actions[1] != "agent"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59:59+14:00"])
def test_a_time_at_the_calendar_s_ends_gets_the_answer_deciding_gives(
    moment: str, durham: RuleSnapshot
) -> None:
    got, expected = variables_of(KeptAnswers(), durham, "9056230123", ["311", "--at", moment])
    assert got == expected
