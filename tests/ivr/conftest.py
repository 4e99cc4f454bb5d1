"""Fixtures: the demo rules, and a controller on the simulated switch over real loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from ivr_testing import BUSINESS_HOURS, GREETING, Harness, LogLines, fast_settings
from structlog.testing import LogCapture
from virtual_clock import VirtualClock

from ivr.controller.rules_source import RulesSource
from ivr.metrics import Metrics
from routing_rules.snapshot import DEMO_DIR, RuleSnapshot, default_geo, snapshot_from_text
from routing_rules.storage.store import RuleStore
from switchsim import FakeSwitch, Outcome
from switchsim.simulation import simulated_controller


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
    """A controller with the Durham demo rules on a fresh simulated switch, at 10:00 on a
    Wednesday; contact centres answer at once and press 1 after the whisper. The greeting
    plays until a key skips it; every other prompt takes 20 ms. The calls' timers run on a
    virtual clock: they run out only when the test says so (`Harness.expire`)."""
    metrics = Metrics()
    clock = [BUSINESS_HOURS]
    timers = VirtualClock()
    switch = FakeSwitch(
        playback_s=0.02,
        media_durations={GREETING: 60.0},
        default_outcome=Outcome(kind="answer", press="1"),
    )
    async with simulated_controller(
        fast_settings(),
        RulesSource.fixed(durham, metrics),
        switch=switch,
        clock=lambda: clock[0],
        scheduler=timers,
    ) as (fake, controller):
        yield Harness(fake, controller, durham, clock, timers)


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
