"""Calls through the simulated switch, then ``ivr311 report`` over their stored records: every
figure equals an independent count of the same calls (`call_mix`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from call_mix import (
    assert_counts,
    assert_intact,
    demo,
    expected,
    legs_of,
    place,
    report_of,
    script,
    transfers_seen,
)
from ivr_testing import running_harness, stored_rows

from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.store import RuleStore

pytestmark = pytest.mark.usefixtures("warnings_only", "long_lived_objects_frozen")

CALLS = int(os.environ.get("IVR311_REPORT_SIM_CALLS", "10000"))
"""Calls through the switch (``IVR311_REPORT_SIM_CALLS`` for fewer while working on it)."""


async def test_every_figure_of_the_report_equals_an_independent_count_of_the_calls(
    durham: RuleSnapshot, tmp_path: Path
) -> None:
    setup = demo(durham)
    callers = script(seed=13, count=CALLS, digits=[o.digit for o in setup.menu.options])
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    try:
        async with running_harness(durham, store) as h:
            call_ids = await place(h, setup, callers)
            assert h.controller.records is not None
            await h.controller.records.writer.flush()
            legs = legs_of(h, setup.owner)
        report = report_of(store, callers)
        rows = stored_rows(store)
    finally:
        store.close()
    assert report["calls_offered"]["total"] == CALLS
    assert_counts(report, expected(callers, setup.menu, transfers_seen(legs, call_ids)))
    assert set(rows) == set(call_ids)
    assert_intact(rows, dict(zip(call_ids, callers, strict=True)), setup, legs)
