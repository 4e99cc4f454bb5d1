"""Alembic environment: migrations run on the connection the rule store hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from routing_rules.storage.reader import SCHEMA_VERSION_TABLE as VERSION_TABLE
from routing_rules.storage.tables import Base


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _url = context.config.get_main_option("sqlalchemy.url")
    assert _url, "set sqlalchemy.url or pass a connection"
    with create_engine(_url).begin() as _conn:
        _run(_conn)
