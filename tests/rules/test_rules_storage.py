"""Versioned storage on SQLite and on the machine's PostgreSQL (marker ``postgres``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable

import pytest
from sqlalchemy import inspect

from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import content_hash
from routing_rules.storage.errors import (
    AlreadyActive,
    ConflictCause,
    ConflictError,
    VersionNotFound,
)
from routing_rules.storage.notify import (
    RECONNECT_CAP_S,
    RECONNECT_INITIAL_S,
    retry_delay,
    watch_active_version,
)
from routing_rules.storage.store import RuleStore
from routing_rules.validation import RuleSetInvalid

Opener = Callable[[], RuleStore]


def edited(text: str, n: int) -> str:
    return text.replace("ring_timeout_s: 20", f"ring_timeout_s: {20 + n}", 1)


def test_empty_store(open_store: Opener) -> None:
    store = open_store()
    assert store.active_version() is None
    assert store.active() is None
    assert store.versions() == []
    with pytest.raises(VersionNotFound):
        store.get(1)


def test_migrations_run_on_open_and_are_idempotent(open_store: Opener) -> None:
    first = open_store()
    second = open_store()
    tables = set(inspect(second.engine).get_table_names())
    assert {"rule_versions", "rule_activations", "active_rules"} <= tables
    assert first.active_version() is None


def test_apply_stores_an_immutable_audited_version(
    open_store: Opener, durham_text: str, geo: GeoLookup
) -> None:
    store = open_store()
    result = store.apply(durham_text, author="alice", comment="first", base_version=None, geo=geo)
    assert (result.version, result.previous_version, result.unchanged) == (1, None, False)
    stored = store.get(1)
    assert stored.content == durham_text
    assert stored.content_hash == content_hash(durham_text)
    assert (stored.author, stored.comment, stored.host_id) == ("alice", "first", "durham")
    assert stored.geo_hash == geo.content_hash
    assert stored.created_at.tzinfo is not None
    assert store.active_version() == 1
    snapshot = store.load_snapshot(geo)
    assert snapshot is not None and snapshot.version == 1
    assert snapshot.content_hash == stored.content_hash


def test_reapplying_the_active_content_changes_nothing(
    open_store: Opener, durham_text: str, geo: GeoLookup
) -> None:
    store = open_store()
    store.apply(durham_text, author="a", comment="1", base_version=None, geo=geo)
    again = store.apply(durham_text, author="a", comment="again", base_version=1, geo=geo)
    assert again.unchanged and again.version == 1
    assert len(store.versions()) == 1


def test_invalid_rules_change_nothing(open_store: Opener, durham_text: str, geo: GeoLookup) -> None:
    store = open_store()
    store.apply(durham_text, author="a", comment="1", base_version=None, geo=geo)
    broken = durham_text.replace('dial: "+19055550110"', 'dial: "call pickering"')
    with pytest.raises(RuleSetInvalid) as caught:
        store.apply(broken, author="a", comment="broken", base_version=1, geo=geo)
    assert "municipalities[0].destinations[0].dial" in str(caught.value)
    assert [v.version for v in store.versions()] == [1]
    assert store.active_version() == 1
    assert len(store.activations()) == 1


def test_second_admin_from_a_stale_base_gets_a_clear_conflict(
    open_store: Opener, durham_text: str, geo: GeoLookup
) -> None:
    alice, bob = open_store(), open_store()
    alice.apply(durham_text, author="alice", comment="v1", base_version=None, geo=geo)
    alice.apply(edited(durham_text, 1), author="alice", comment="v2", base_version=1, geo=geo)
    with pytest.raises(ConflictError) as caught:
        bob.apply(edited(durham_text, 2), author="bob", comment="mine", base_version=1, geo=geo)
    conflict = caught.value
    assert (conflict.base, conflict.active, conflict.cause) == (1, 2, ConflictCause.STALE_BASE)
    assert bob.active_version() == 2
    assert [v.version for v in bob.versions()] == [1, 2]


@pytest.mark.parametrize("base", [None, 1])
def test_concurrent_applies_one_wins(
    open_store: Opener, durham_text: str, geo: GeoLookup, base: int | None
) -> None:
    if base is not None:
        open_store().apply(durham_text, author="a", comment="v1", base_version=None, geo=geo)
    stores = [open_store(), open_store()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def admin(i: int) -> None:
        barrier.wait()
        try:
            stores[i].apply(
                edited(durham_text, 10 + i),
                author=f"admin{i}",
                comment="race",
                base_version=base,
                geo=geo,
            )
            outcomes.append("applied")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=admin, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["applied", "conflict"]
    expected_versions = 1 if base is None else 2
    assert len(stores[0].versions()) == expected_versions


def test_history_rollback_and_diff(open_store: Opener, durham_text: str, geo: GeoLookup) -> None:
    store = open_store()
    store.apply(durham_text, author="alice", comment="v1", base_version=None, geo=geo)
    store.apply(edited(durham_text, 5), author="bob", comment="v2", base_version=1, geo=geo)
    patch = store.diff(1, 2)
    assert "--- version 1" in patch and "+++ version 2" in patch
    assert "-  ring_timeout_s: 20" in patch and "+  ring_timeout_s: 25" in patch
    assert store.diff(2, 2) == ""

    activation = store.rollback(1, author="carol", comment="bad timeout", geo=geo)
    assert (activation.version, activation.previous_version) == (1, 2)
    assert store.active_version() == 1
    assert [v.version for v in store.versions()] == [1, 2]
    log = [(a.action, a.version, a.previous_version, a.author) for a in store.activations()]
    assert log == [
        ("apply", 1, None, "alice"),
        ("apply", 2, 1, "bob"),
        ("rollback", 1, 2, "carol"),
    ]
    with pytest.raises(AlreadyActive) as already:
        store.rollback(1, author="carol", comment="again", geo=geo)
    assert already.value.version == 1
    with pytest.raises(ConflictError):
        store.rollback(2, author="dave", comment="stale", geo=geo, base_version=2)
    with pytest.raises(VersionNotFound):
        store.rollback(9, author="dave", comment="none", geo=geo)


def test_apply_after_rollback_starts_from_the_rolled_back_version(
    open_store: Opener, durham_text: str, geo: GeoLookup
) -> None:
    store = open_store()
    store.apply(durham_text, author="a", comment="v1", base_version=None, geo=geo)
    store.apply(edited(durham_text, 1), author="a", comment="v2", base_version=1, geo=geo)
    store.rollback(1, author="a", comment="back", geo=geo)
    with pytest.raises(ConflictError):
        store.apply(edited(durham_text, 3), author="a", comment="v3", base_version=2, geo=geo)
    result = store.apply(edited(durham_text, 3), author="a", comment="v3", base_version=1, geo=geo)
    assert (result.version, result.previous_version) == (3, 1)
    assert store.get(3).base_version == 1


async def _next(versions: AsyncGenerator[int | None, None]) -> int | None:
    return await asyncio.wait_for(anext(versions), timeout=20)


async def test_watchers_hear_of_new_versions(
    open_store: Opener, durham_text: str, geo: GeoLookup
) -> None:
    store = open_store()
    admin = open_store()
    versions = watch_active_version(store, poll_interval_s=0.05)
    try:
        assert await _next(versions) is None
        await asyncio.to_thread(
            admin.apply, durham_text, author="a", comment="v1", base_version=None, geo=geo
        )
        assert await _next(versions) == 1
        await asyncio.to_thread(
            admin.apply, edited(durham_text, 1), author="a", comment="v2", base_version=1, geo=geo
        )
        assert await _next(versions) == 2
        await asyncio.to_thread(admin.rollback, 1, author="a", comment="back", geo=geo)
        assert await _next(versions) == 1
    finally:
        await versions.aclose()


def test_reconnects_to_an_unreachable_store_back_off_to_a_one_second_cap() -> None:
    """However long the store is down, a listener tries again at least once a second, so an
    activation made once it is back reaches every controller soon; controllers that lost it
    together spread their attempts (between half and all of each wait)."""
    longest = [retry_delay(n, rand=lambda: 1.0 - 1e-9) for n in range(12)]
    shortest = [retry_delay(n, rand=lambda: 0.0) for n in range(12)]
    assert longest[:4] == pytest.approx([RECONNECT_INITIAL_S * 2**n for n in range(4)])
    assert max(longest) == pytest.approx(RECONNECT_CAP_S) == longest[-1]
    assert shortest == pytest.approx([d / 2 for d in longest])
