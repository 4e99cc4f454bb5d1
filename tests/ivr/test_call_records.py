"""Calls through the simulated switch leave durable records in the rule store's database, and a
slow or broken database never holds up a call (SQLite, and PostgreSQL with marker ``postgres``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ivr_testing import (
    FailingStore,
    Harness,
    HungStore,
    fallback_choice,
    fast_settings,
    inside_number,
    menu_number,
    records_in,
    running_harness,
    stored_rows,
)
from virtual_clock import VirtualClock

from ivr.call.record import DecisionRecord
from ivr.metrics import Metrics
from ivr.records import CallRecords
from routing_rules.snapshot import RuleSnapshot
from routing_rules.storage.call_records import (
    CallRecordStore,
    StoredCall,
)
from routing_rules.storage.store import RuleStore
from switchsim import Outcome

HASH_KEY = "records-test-key"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[RuleStore]:
    opened = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    try:
        yield opened
    finally:
        opened.close()


def harness_on(
    durham: RuleSnapshot, store: RuleStore, records: CallRecords | None = None
) -> AbstractAsyncContextManager[Harness]:
    """`running_harness` on ``store``, hashing calling numbers with ``HASH_KEY``."""
    return running_harness(durham, store, records, fast_settings(log_hash_key=HASH_KEY))


def records_of(h: Harness) -> CallRecords:
    assert h.controller.records is not None
    return h.controller.records


def as_utc(moment: datetime) -> datetime:
    """A stored time (SQLite gives it back without its zone, which is UTC) in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def caller_hash(number: str) -> str:
    e164 = "+1" + number
    return hmac.new(HASH_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()[:16]


async def connected_then_hung_up(h: Harness, call_id: str) -> dict[str, Any]:
    caller = h.record(call_id)
    await h.until(lambda: bool(caller.bridged_with))
    h.switch.hangup_caller(call_id)
    return await h.ended(call_id)


async def completed_call(h: Harness, number: str) -> tuple[str, dict[str, Any]]:
    """A caller who skips the greeting, reaches a person and hangs up."""
    call_id = h.call(number)
    await h.skip_greeting(call_id)
    return call_id, await connected_then_hung_up(h, call_id)


async def test_each_call_s_record_lands_in_the_store_with_the_report_s_figures(
    durham: RuleSnapshot, rule_store: RuleStore
) -> None:
    inside, shared = inside_number(durham), menu_number(durham)
    digit, chosen = fallback_choice(durham, shared)
    store = rule_store
    async with harness_on(durham, store) as h:
        routed, _ = await completed_call(h, inside)

        h.switch.script_endpoint(chosen.chain[0].dial, Outcome(kind="busy", after_s=0.05))
        choice = h.call(shared)
        await h.skip_greeting(choice)
        await h.until(lambda: "menu-intro" in h.heard(choice))
        h.switch.press(choice, digit)
        await connected_then_hung_up(h, choice)

        zero_out = h.call(shared, dialled="+19055550100")
        await h.skip_greeting(zero_out, "0")
        await connected_then_hung_up(h, zero_out)

        abandoned = h.call(shared)
        await h.skip_greeting(abandoned)
        await h.until(lambda: "menu-intro" in h.heard(abandoned))
        h.switch.hangup_caller(abandoned)
        await h.ended(abandoned)

        status = h.call(inside)
        await h.skip_greeting(status, "*")
        await h.until(lambda: "status-ask" in h.heard(status))
        h.switch.press(status, "#")
        await connected_then_hung_up(h, status)

        await records_of(h).writer.flush()
        rows = stored_rows(store)

    assert set(rows) == {routed, choice, zero_out, abandoned, status}
    assert rows[status]["status_check"] == "no_number"
    assert rows[status]["destination"] == "durham-agents"
    first = rows[routed]
    assert as_utc(first["started_at"]) == datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    assert (first["local_date"], first["local_hour"], first["local_weekday"]) == (
        date(2026, 11, 18),
        10,
        2,
    )
    assert (first["dialled"], first["number_kind"]) == ("311", "311")
    assert (first["caller_npa_nxx"], first["caller_hash"]) == (inside[:6], caller_hash(inside))
    assert first["caller_failure"] is None
    assert (first["greeting_skipped"], first["zero_out"], first["after_hours"]) == (
        True,
        None,
        False,
    )
    assert (first["evidence"], first["route_kind"], first["destination"]) == (
        "exchange",
        "agent",
        "durham-agents",
    )
    assert (first["outcome"], first["abandoned_in"], first["menu"]) == ("completed", None, None)
    assert first["answer_to_person_s"] is not None and first["total_s"] is not None
    assert first["rules_hash"] == durham.content_hash[:12] and first["language"] == "en"
    assert [(a["seq"], a["destination"], a["result"]) for a in first["attempt_rows"]] == [
        (0, "durham-agents", "answered")
    ]
    assert first["attempts"] == 1
    assert first["status_check"] is None

    menu = rows[choice]
    assert menu["menu"] is not None and menu["menu"].startswith("exchange:")
    assert (menu["evidence"], menu["municipality"], menu["digits"]) == (
        "caller_choice",
        chosen.municipality_id,
        digit,
    )
    assert [(a["destination"], a["result"]) for a in menu["attempt_rows"]] == [
        (chosen.chain[0].destination_id, "busy"),
        (chosen.chain[1].destination_id, "answered"),
    ]
    assert menu["destination"] == chosen.chain[1].destination_id

    agent = rows[zero_out]
    assert (agent["zero_out"], agent["evidence"], agent["number_kind"]) == (
        "greeting",
        "caller_choice",
        "ten-digit",
    )

    gone = rows[abandoned]
    assert (gone["outcome"], gone["abandoned_in"], gone["destination"]) == (
        "caller_hangup",
        "menu",
        None,
    )
    assert gone["attempt_rows"] == []

    everything = repr(sorted(rows.items()))
    for number in (inside, shared):
        assert number not in everything, "no full calling number is stored"


async def calls_complete(h: Harness, count: int) -> list[str]:
    """``count`` callers one after the other, each reaching a person; all must complete."""
    done = []
    for _ in range(count):
        call_id, record = await completed_call(h, inside_number(h.snapshot))
        assert record["outcome"] == "completed"
        done.append(call_id)
    return done


class BatchCountingStore(CallRecordStore):
    """The store, noting how many records each write (one transaction) carried."""

    def __init__(self, store: RuleStore) -> None:
        super().__init__(store)
        self.batches: list[int] = []

    def write(self, calls: list[StoredCall]) -> None:
        super().write(calls)
        self.batches.append(len(calls))


async def test_the_records_of_calls_ending_within_a_second_are_written_in_one_transaction(
    durham: RuleSnapshot, sqlite_store: RuleStore
) -> None:
    counting = BatchCountingStore(sqlite_store)
    clock = VirtualClock()
    records = records_in(counting, Metrics(), 10, scheduler=clock)
    async with harness_on(durham, sqlite_store, records) as h:
        calls = await calls_complete(h, 3)
        assert records.writer.held == 3 and counting.batches == [], "gathered for a second"
        clock.advance(1.0)
        await records.writer.flush()
        rows = stored_rows(sqlite_store)

    assert counting.batches == [3]
    assert set(rows) == set(calls)


async def test_a_hung_store_holds_up_no_call_and_exactly_the_records_over_the_bound_are_lost(
    durham: RuleSnapshot, sqlite_store: RuleStore
) -> None:
    gated = HungStore(sqlite_store, timeout_s=30)
    metrics = Metrics()
    capacity = 3
    async with harness_on(durham, sqlite_store, records_in(gated, metrics, capacity)) as h:
        calls = await calls_complete(h, 7)
        await asyncio.to_thread(gated.waiting.wait, 10)
        writer = records_of(h).writer
        assert writer.dropped == 7 - capacity
        assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == 4
        assert metrics.registry.get_sample_value("ivr311_call_records_queued") == capacity

        gated.gate.set()
        await writer.flush()
        [after] = await calls_complete(h, 1)
        await writer.flush()
        rows = stored_rows(sqlite_store)

    assert set(rows) == {*calls[:capacity], after}, "the first records held, then new ones"
    for row in rows.values():
        assert row["outcome"] == "completed"
        assert [a["result"] for a in row["attempt_rows"]] == ["answered"]
    assert metrics.registry.get_sample_value("ivr311_call_records_written_total") == 4


async def test_records_refused_while_the_store_is_down_are_written_intact_after_recovery(
    durham: RuleSnapshot, sqlite_store: RuleStore
) -> None:
    failing = FailingStore(sqlite_store)
    metrics = Metrics()
    async with harness_on(durham, sqlite_store, records_in(failing, metrics, 10)) as h:
        calls = await calls_complete(h, 3)
        await asyncio.to_thread(failing.refused.wait, 10)
        assert stored_rows(sqlite_store) == {}
        failing.down = False
        await records_of(h).writer.flush()
        rows = stored_rows(sqlite_store)

    assert set(rows) == set(calls)
    assert all(row["destination"] == "durham-agents" for row in rows.values())
    assert all(len(row["attempt_rows"]) == 1 for row in rows.values())
    assert (metrics.registry.get_sample_value("ivr311_call_records_write_failures_total") or 0) >= 1
    assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == 0


async def test_records_still_held_at_shutdown_are_counted_as_lost(
    durham: RuleSnapshot, sqlite_store: RuleStore
) -> None:
    failing = FailingStore(sqlite_store)
    metrics = Metrics()
    records = records_in(failing, metrics, 10)
    async with harness_on(durham, sqlite_store, records) as h:
        await calls_complete(h, 2)
        await asyncio.to_thread(failing.refused.wait, 10)
        await records.close(timeout_s=0)
    assert records.writer.dropped == 2
    assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == 2


async def test_a_record_that_cannot_be_stored_is_counted_as_lost_never_raised(
    sqlite_store: RuleStore,
) -> None:
    metrics = Metrics()
    records = records_in(CallRecordStore(sqlite_store), metrics, 10)
    broken = DecisionRecord(
        call_id="c1",
        dialled="311",
        caller="withheld",
        rules_version=None,
        rules_hash="",
        started_at="not a time",
    )
    records.submit(broken, ZoneInfo("America/Toronto"))
    assert records.writer.dropped == 1 and records.writer.held == 0
    assert metrics.registry.get_sample_value("ivr311_call_records_dropped_total") == 1
