"""Property tests: whatever the facts of a call, it ends at a reachable destination or a message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing_rules.decision import (
    CallContext,
    CheckStatus,
    OfferMenu,
    PlayGreeting,
    PlayMessage,
    StatusResult,
    Transfer,
)
from routing_rules.engine import decide
from routing_rules.geoview import GeoLookup
from routing_rules.schedules import schedule_state
from routing_rules.snapshot import RuleSnapshot, load_snapshot, snapshot_from_text

KEYS = st.sampled_from(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", ""])


def _known_codes(geo: GeoLookup) -> list[str]:
    codes = sorted({c for cs in geo.npa_nxx_by_exchange().values() for c in cs})
    return codes[::7]


@st.composite
def calling_numbers(draw: st.DrawFn, codes: list[str]) -> str | None:
    line = draw(st.integers(0, 9999))
    code = draw(st.sampled_from(codes))
    number: str | None = draw(
        st.one_of(
            st.just(f"{code}{line:04d}"),
            st.just(f"+1{code}{line:04d}"),
            st.just(f"1-{code[:3]}-{code[3:]}-{line:04d}"),
            st.just(f"sip:+1{code}{line:04d}@carrier;user=phone"),
            st.sampled_from(["anonymous", "Restricted", "", "unknown", "CALLER"]),
            st.none(),
            st.text(max_size=40),
            st.text(alphabet="0123456789", min_size=1, max_size=30),
        )
    )
    return number


INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, ZoneInfo("America/Toronto"), ZoneInfo("America/Halifax")]),
)
LOCATIONS = st.one_of(
    st.none(),
    st.tuples(st.floats(43.5, 46.5), st.floats(-80.0, -59.5)),
    st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)),
)


@pytest.fixture(scope="module")
def snapshots(geo: GeoLookup, durham_text: str) -> dict[str, RuleSnapshot]:
    loaded = {name: load_snapshot(name, geo) for name in ("durham", "cape-breton")}
    # Room for all eight members: unknown callers get the member menu.
    roomy = durham_text.replace("  max_menu_options: 4\n", "  max_menu_options: 8\n")
    loaded["durham-member-menu"] = snapshot_from_text(roomy, geo, source="durham-member-menu")
    return loaded


def _assert_reachable(snapshot: RuleSnapshot, step: Transfer | PlayMessage, at: datetime) -> None:
    if isinstance(step, PlayMessage):
        assert step.prompts
        return
    assert step.final_message, "a transfer always has a last resort message"
    assert step.final_message[0].id == "transfer-failed"
    for target in step.chain:
        dest = snapshot.destinations[target.destination_id]
        assert schedule_state(dest.schedule, snapshot.rules.schedules[dest.schedule], at).open
        assert target.dial.startswith(("+", "sip:", "sips:"))
        assert target.ring_timeout_s > 0


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_call_ends_at_a_destination_or_a_message(
    data: st.DataObject, snapshots: dict[str, RuleSnapshot], geo: GeoLookup
) -> None:
    name = data.draw(st.sampled_from(sorted(snapshots)))
    snapshot = snapshots[name]
    ctx = CallContext(
        dialled=data.draw(st.sampled_from(["311", "+19055550100", "+19025550100", "x"])),
        calling=data.draw(calling_numbers(_known_codes(geo))),
        at=data.draw(INSTANTS),
        location=data.draw(LOCATIONS),
        language=data.draw(st.sampled_from(["en", "fr", "de"])),
    )
    first = decide(snapshot, ctx).step
    assert isinstance(first, PlayGreeting)
    ctx = replace(ctx, greeting_done=True, digits=tuple(data.draw(st.lists(KEYS, max_size=2))))
    limit = snapshot.rules.overlap_policy.max_attempts + 3
    for _ in range(limit):
        decision = decide(snapshot, ctx)
        assert decision.trace, "every decision explains itself"
        step = decision.step
        if isinstance(step, CheckStatus):
            # The call flow asks the server; whatever it answered, the caller's next key
            # answers the offer of an agent.
            assert ctx.status is None, "one status check per call"
            status = data.draw(st.sampled_from(list(StatusResult)))
            ctx = replace(ctx, status=status, digits=(*ctx.digits, data.draw(KEYS)))
            continue
        if not isinstance(step, OfferMenu):
            assert isinstance(step, Transfer | PlayMessage)
            _assert_reachable(snapshot, step, ctx.at)
            return
        assert 1 <= step.attempt <= step.max_attempts
        assert step.options
        assert len(step.options) <= snapshot.rules.overlap_policy.max_menu_options
        ctx = replace(ctx, digits=(*ctx.digits, data.draw(KEYS)))
    pytest.fail("the menus never ended")
