"""Rule stores at an older schema revision (to test what opening them does)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from routing_rules.storage.store import MIGRATIONS


def upgrade_to(conn: Connection, revision: str) -> None:
    """Bring the database of ``conn`` (empty, or older) to the schema ``revision``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
