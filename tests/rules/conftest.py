"""Fixtures for the routing-rules tests: the demo geodata, the demo rule sets, databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, load_snapshot
from routing_rules.storage.store import RuleStore

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


def _postgres_base_url() -> str:
    return os.environ.get("IVR311_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = _postgres_base_url()
    admin = create_engine(base)
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {base} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {base} is unreachable")
    schema = f"ivr311_rules_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
