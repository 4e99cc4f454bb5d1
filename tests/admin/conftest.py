"""Fixtures for the admin API tests: a seeded rule store and the API over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from admin_testing import TOKEN, StaticState, admin_app
from aiohttp.test_utils import TestClient, TestServer

from ivr.admin import AdminService
from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import DEMO_DIR, default_geo
from routing_rules.storage.store import RuleStore


@pytest.fixture(scope="session")
def geo() -> GeoLookup:
    return default_geo()


@pytest.fixture(scope="session")
def durham_text() -> str:
    return (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rules.db'}"


@pytest.fixture
def store(database_url: str, durham_text: str, geo: GeoLookup) -> Iterator[RuleStore]:
    """A store whose version 1 (active) is the Durham demo."""
    rule_store = RuleStore.open(database_url)
    rule_store.apply(durham_text, author="seed", comment="demo", base_version=None, geo=geo)
    yield rule_store
    rule_store.close()


@pytest.fixture
def state() -> StaticState:
    return StaticState()


@pytest.fixture
def service(store: RuleStore, geo: GeoLookup) -> AdminService:
    return AdminService(store=store, geo=lambda: geo)


@pytest.fixture
async def client(state: StaticState, service: AdminService) -> AsyncIterator[TestClient]:
    """The admin API served on a loopback port, token ``TOKEN``."""
    app = admin_app(state, service, lambda: TOKEN)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
