"""Fixtures every test folder shares: a state directory of its own for each test (so nothing
writes the user's default rule store), and a PostgreSQL schema of its own for the PostgreSQL
path. The run's summary ends with how many cases the fuzzers generated (``fuzzing.py``)."""

from __future__ import annotations

import logging
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fuzzing import fuzz_summary
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# No test may depend on the machine's speed: hypothesis's 200 ms default deadline fails tests
# on a busy machine. Budgets are counts of examples, set by each test.
settings.register_profile("ivr311", deadline=None)
settings.load_profile("ivr311")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many cases the fuzzers generated in this run (see ``tests/fuzzing.py``)."""
    summary = fuzz_summary()
    if summary is not None:
        terminalreporter.write_sep("-", summary)


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """A test that runs a command in-process configures logging as the command does
    (``configure_logging``); the next test starts with the configuration it found, so what
    one test logs never depends on which tests ran before it."""
    previous = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**previous)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def state_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``XDG_STATE_HOME`` of this test (and of the processes it starts): the default rule store
    is ``<it>/ivr311/rules.db``, never the user's. ``IVR311_DATABASE_URL`` is unset."""
    state = tmp_path_factory.mktemp("xdg-state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.delenv("IVR311_DATABASE_URL", raising=False)
    return state


@pytest.fixture
def traced_memory() -> Iterator[None]:
    """Python's allocations traced while the test runs (``fuzzing.allocation_peak``). Request
    it before any fixture that starts a thread, so tracing stops only once they are gone."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the PostgreSQL named by IVR311_TEST_POSTGRES_URL (default: the local server)
    whose search_path is a fresh schema, dropped afterwards.

    An unreachable server skips the test, except under CI (``CI=true``), where it fails.
    """
    base = os.environ.get("IVR311_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    admin = create_engine(base)
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {base} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {base} is unreachable")
    schema = f"ivr311_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
