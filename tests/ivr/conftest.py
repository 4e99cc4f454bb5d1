"""Fixtures: the demo rules, and a controller on the simulated switch over real loopback."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from ivr_testing import Harness, LogLines, fast_settings, running_harness
from structlog.testing import LogCapture

from ivr.controller.process import freeze_long_lived_objects
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text
from routing_rules.storage.store import RuleStore


@pytest.fixture(scope="session")
def durham() -> RuleSnapshot:
    """The Durham demo rules with quick menus (1 s to answer, two attempts) and 5 s rings."""
    text = (DEMO_DIR / "durham.yaml").read_text(encoding="utf-8")
    text = text.replace("ring_timeout_s: 20", "ring_timeout_s: 5")
    text = text.replace("menu_timeout_s: 6", "menu_timeout_s: 1").replace(
        "max_attempts: 3", "max_attempts: 2"
    )
    assert "menu_timeout_s: 1" in text and "max_attempts: 2" in text
    return snapshot_from_text(text, default_geo(), source="test:durham")


@pytest.fixture
async def harness(durham: RuleSnapshot) -> AsyncIterator[Harness]:
    """`running_harness` on the Durham demo rules, fixed."""
    async with running_harness(durham) as h:
        yield h


@pytest.fixture
async def http_harness(durham: RuleSnapshot) -> AsyncIterator[Harness]:
    """`harness` sending every request over HTTP, for tests that lose Asterisk's answers to
    requests (on the event socket a lost answer is the socket dropping: all its calls
    reconnect and reconcile)."""
    async with running_harness(durham, settings=fast_settings(ari_requests="http")) as h:
        yield h


@pytest.fixture
def logged() -> Iterator[LogLines]:
    """Every log line at any level, with its bound and context variables, while a test runs."""
    previous = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**previous)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rule_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuleStore]:
    """A rule store on SQLite, and on the machine's PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rules.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = RuleStore.open(url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def warnings_only() -> None:
    """Only warnings and errors are logged while the test runs (the configuration is restored
    after it): thousands of calls' lines would cost more than the calls themselves."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.fixture
def long_lived_objects_frozen() -> Iterator[None]:
    """What lives before the test starts (modules, the demo rules and their geodata) is kept
    out of the garbage collector's full passes, as ``ivr311 run`` does at start-up
    (`freeze_long_lived_objects`); they are handed back to it after the test."""
    freeze_long_lived_objects()
    try:
        yield
    finally:
        gc.unfreeze()
