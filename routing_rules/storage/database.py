"""Which database URLs name a rule store, and the SQLAlchemy engine of one.

SQLite and PostgreSQL are supported. On SQLite the engine enforces foreign keys and starts a
write transaction with ``BEGIN IMMEDIATE`` when the connection carries `WRITE_OPTION`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from routing_rules.storage.errors import NoRuleStore, StoreUnavailable, failure_reason

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
WRITE_OPTION = "ivr311_write"
"""The execution option a connection of a write transaction carries (see `make_engine`)."""


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a rule store (not a URL, another database, a missing driver),
    or ``None`` when it can. Nothing is connected to."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        return (
            f"unsupported database {backend!r}: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (ArgumentError, ImportError):
        return f"the database driver {parsed.get_driver_name()!r} is not available: use " + (
            "sqlite:///PATH" if backend == "sqlite" else "postgresql+psycopg://USER@HOST/DB"
        )
    return None


def make_engine(url: str, *, create: bool = True) -> Engine:
    """The engine of the store ``url`` names (`StoreUnavailable` when it can name none). The
    directory of a SQLite file is created; with ``create=False`` a missing file raises
    `NoRuleStore` instead."""
    problem = database_url_problem(url)
    if problem is not None:
        raise StoreUnavailable(problem)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not create and not path.exists():
            raise NoRuleStore(path.absolute())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the rule store {path}: {failure_reason(exc)}"
            ) from exc
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: object, _record: object) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (see below).
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take SQLite's write lock at BEGIN: two concurrent applies then serialise
        # cleanly instead of one failing with "database is locked" half-way through.
        # Readers (the active-version poll) begin a plain deferred transaction.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
