"""Fixtures for the routing-rules tests: the demo geodata, the demo rule sets, databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, load_snapshot
from routing_rules.storage.store import RuleStore


@pytest.fixture(scope="session")
def geo() -> GeoLookup:
    return default_geo()


@pytest.fixture(scope="session")
def durham(geo: GeoLookup) -> RuleSnapshot:
    return load_snapshot("durham", geo)


@pytest.fixture(scope="session")
def cape_breton(geo: GeoLookup) -> RuleSnapshot:
    return load_snapshot("cape-breton", geo)


@pytest.fixture(scope="session")
def durham_text() -> str:
    return (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def cape_breton_text() -> str:
    return (DEMO_DIR / "cape-breton.yaml").read_text(encoding="utf-8")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rules.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on SQLite and on the machine's PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[[], RuleStore]]:
    """Open as many stores on the same database as a test needs; all closed afterwards."""
    opened: list[RuleStore] = []

    def factory() -> RuleStore:
        store = RuleStore.open(store_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
