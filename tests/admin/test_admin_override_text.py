"""Switching the override rewrites only the schedule's override block, whatever the reason says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.admin.override import OverrideChange, set_override
from routing_rules.snapshot import DEMO_DIR

DURHAM = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
SCHEDULES = sorted(yaml.safe_load(DURHAM)["schedules"])

reasons = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn")), min_size=1, max_size=80
).filter(lambda r: r.strip())
expiries = st.none() | st.integers(min_value=1, max_value=10_000).map(
    lambda h: datetime(2026, 11, 23, tzinfo=UTC) + timedelta(hours=h)
)


@settings(max_examples=40, deadline=None)
@given(
    schedule=st.sampled_from(SCHEDULES),
    active=st.booleans(),
    reason=reasons,
    expires=expiries,
)
def test_only_the_override_changes(
    schedule: str, active: bool, reason: str, expires: datetime | None
) -> None:
    change = OverrideChange(active=active, reason=reason, expires=expires)
    edited = set_override(DURHAM, schedule, change)
    before, after = yaml.safe_load(DURHAM), yaml.safe_load(edited)
    assert after["schedules"][schedule]["emergency_override"] == change.as_mapping()
    before["schedules"][schedule].pop("emergency_override", None)
    after["schedules"][schedule].pop("emergency_override")
    assert before == after
    assert "# when the caller does not choose" in edited, "comments elsewhere are kept"


def test_a_flow_style_schedule_is_rewritten_whole() -> None:
    text = "schedules: {always: {timezone: UTC, always_open: true}}\n"
    edited = set_override(text, "always", OverrideChange(active=True, reason="drill"))
    assert yaml.safe_load(edited)["schedules"]["always"]["emergency_override"] == {
        "active": True,
        "reason": "drill",
    }
