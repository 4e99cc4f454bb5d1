"""Calls through the simulated switch, then ``ivr311 report`` over their stored records: every
figure equals an independent count of the same calls (`call_mix`).
"""

from __future__ import annotations

import os
from pathlib import Path

import call_mix as mix
import pytest
from ivr_testing import running_harness, stored_rows

from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.store import RuleStore

pytestmark = pytest.mark.usefixtures("warnings_only", "long_lived_objects_frozen")

CALLS = int(os.environ.get("IVR311_REPORT_SIM_CALLS", "10000"))
"""Calls through the switch (``IVR311_REPORT_SIM_CALLS`` for fewer while working on it)."""


async def test_every_figure_of_the_report_equals_an_independent_count_of_the_calls(
    durham: RuleSnapshot, tmp_path: Path
) -> None:
    setup = mix.demo(durham)
    callers = mix.script(seed=13, count=CALLS, digits=[o.digit for o in setup.menu.options])
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    try:
        async with running_harness(durham, store, event_log=False) as h:
            call_ids = await mix.place(h, setup, callers)
            assert h.controller.records is not None
            await h.controller.records.writer.flush()
            legs = mix.legs_of(h, setup.owner)
        report = mix.report_of(store, callers)
        rows = stored_rows(store)
    finally:
        store.close()
    assert report["calls_offered"]["total"] == CALLS
    mix.assert_counts(report, mix.expected(callers, setup.menu, mix.transfers_seen(legs, call_ids)))
    assert set(rows) == set(call_ids)
    mix.assert_intact(rows, dict(zip(call_ids, callers, strict=True)), setup, legs)
