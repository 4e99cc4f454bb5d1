"""Fixtures: a rule store holding seeded call records, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from report_testing import random_calls

from routing_rules.storage.call_records import CallRecordStore, StoredCall
from routing_rules.storage.store import RuleStore

FIRST = date(2026, 10, 1)
DAYS = 75


@pytest.fixture(scope="session")
def calls() -> list[StoredCall]:
    """3,000 seeded calls from 1 October 2026 over 75 days (a DST change inside)."""
    return random_calls(seed=311, count=3000, first=FIRST, days=DAYS)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rules.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def filled_store(store_url: str, calls: list[StoredCall]) -> Iterator[RuleStore]:
    """A store holding ``calls``."""
    store = RuleStore.open(store_url)
    try:
        CallRecordStore(store).write(calls)
        yield store
    finally:
        store.close()
