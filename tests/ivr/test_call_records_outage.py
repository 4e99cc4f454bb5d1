"""The rule store's database down for 30 s while calls run through the simulated switch (the mix
of `call_mix`): no call waits on it, exactly the records beyond the queue's bound are lost and
counted, and every record written is the one its call must have left.

The 30 s are on the records writer's clock: the writer pauses between retries on a virtual
clock that only the test moves on. The outage runs from ``DOWN_FROM_S`` to ``DOWN_FROM_S +
OUTAGE_S`` of that clock, in ``STEPS`` steps; the callers of each step run from first ring to
hang-up while the clock stands still and every write is refused, so a call that waited on the
writer would never end (the test would fail on the harness's timeout), and the writer holds
what the calls of the outage handed over, up to its bound.
"""

from __future__ import annotations

from pathlib import Path

import call_mix as mix
import pytest
from ivr_testing import FailingStore, records_in, running_harness, stored_rows
from virtual_clock import VirtualClock

from ivr.metrics import Metrics
from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.store import RuleStore

pytestmark = pytest.mark.usefixtures("warnings_only", "long_lived_objects_frozen")

OUTAGE_S = 30.0
DOWN_FROM_S = 10.0
"""When the database stops answering, on the writer's clock (the calls before it are written)."""
STEPS = 6
"""Steps of ``OUTAGE_S / STEPS`` seconds the writer's clock moves on by during the outage."""
CAPACITY = 40
"""The writer's bound (``IVR311_CALL_RECORDS_QUEUE``)."""
BEFORE, DURING, AFTER = 60, 180, 60
"""Callers before, during and after the outage."""


class DownForAWhile(FailingStore):
    """The database refuses every write while ``clock`` (the writer's) reads from
    ``DOWN_FROM_S`` until ``OUTAGE_S`` later."""

    def __init__(self, store: RuleStore, clock: VirtualClock) -> None:
        super().__init__(store)
        self.clock = clock

    def is_down(self) -> bool:
        return DOWN_FROM_S <= self.clock.now < DOWN_FROM_S + OUTAGE_S


async def test_the_store_down_for_30_s_holds_up_no_call_and_loses_only_the_records_over_the_bound(
    durham: RuleSnapshot, tmp_path: Path
) -> None:
    setup = mix.demo(durham)
    callers = mix.script(
        seed=29, count=BEFORE + DURING + AFTER, digits=[o.digit for o in setup.menu.options]
    )
    before, during, after = (
        callers[:BEFORE],
        callers[BEFORE : BEFORE + DURING],
        callers[BEFORE + DURING :],
    )
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    clock = VirtualClock()
    database = DownForAWhile(store, clock)
    metrics = Metrics()
    records = records_in(database, metrics, CAPACITY, scheduler=clock)
    writer = records.writer
    placed: dict[str, mix.Caller] = {}
    try:
        async with running_harness(durham, store, records, event_log=False) as h:
            placed.update(zip(await mix.place(h, setup, before), before, strict=True))
            await writer.flush()

            clock.advance(DOWN_FROM_S)
            assert database.is_down()
            step = DURING // STEPS
            for start in range(0, DURING, step):
                group = during[start : start + step]
                placed.update(zip(await mix.place(h, setup, group), group, strict=True))
                offered = start + len(group)
                assert writer.held == min(offered, CAPACITY), "the writer holds what it can"
                assert writer.dropped == max(0, offered - CAPACITY), "and counts the rest"
                clock.advance(OUTAGE_S / STEPS)
            assert not database.is_down()

            await writer.flush()
            placed.update(zip(await mix.place(h, setup, after), after, strict=True))
            await writer.flush()
            legs = mix.legs_of(h, setup.owner)
        rows = stored_rows(store)
        report = mix.report_of(store, callers)
    finally:
        store.close()

    lost = DURING - CAPACITY
    assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == lost
    assert database.refused.is_set(), "the writer tried while the database was down"
    ids = list(placed)
    before_ids, during_ids, after_ids = (
        ids[:BEFORE],
        ids[BEFORE : BEFORE + DURING],
        ids[BEFORE + DURING :],
    )
    kept = set(rows)
    assert set(before_ids) | set(after_ids) <= kept, "every call around the outage is recorded"
    assert len(kept & set(during_ids)) == CAPACITY, "the records held while the store was down"
    assert len(rows) == len(callers) - lost
    mix.assert_intact(rows, placed, setup, legs)

    survivors = [placed[i] for i in ids if i in kept]
    transfers = mix.transfers_seen(legs, [i for i in ids if i in kept])
    assert report["calls_offered"]["total"] == len(survivors)
    mix.assert_counts(report, mix.expected(survivors, setup.menu, transfers))
