"""The active rule version of a SQLite store, read with the standard library only.

For short-lived readers (``ivr311-agi`` runs once per call): one read-only query, without
importing SQLAlchemy; nothing is created or migrated. Anything else (PostgreSQL, a URL with
options, a schema that is not the current one, a store SQLite cannot read as it is) is left to
`routing_rules.storage.store.RuleStore`, which handles every case.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION_TABLE = "ivr311_rules_schema_version"
"""Alembic's version table (``migrations/env.py`` names it the same)."""
SCHEMA_HEAD = "0005"
"""The newest migration's revision: a store at this revision is opened without Alembic."""

_PLAIN_SQLITE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?#%]+)$")
_ACTIVE = (
    "SELECT v.version, v.content, v.content_hash FROM active_rules AS a "
    "JOIN rule_versions AS v ON v.version = a.version WHERE a.id = 1"
)


@dataclass(frozen=True, slots=True)
class ActiveText:
    """The active version's number, text and content hash."""

    version: int
    content: str
    content_hash: str


class NotReadableHere(Exception):
    """This store needs `RuleStore` (another schema revision, or SQLite refused to read it)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; ``None`` for any other URL."""
    match = _PLAIN_SQLITE_URL.match(url)
    if match is None or match["path"] == ":memory:" or match["path"].startswith("file:"):
        return None
    return Path(match["path"])


def read_active(path: Path, timeout_s: float = 10.0) -> ActiveText | None:
    """The active version of the existing SQLite store ``path`` (``None``: nothing active).

    Raises `NotReadableHere` when the schema is not at `SCHEMA_HEAD` or SQLite fails.
    """
    uri = f"{path.absolute().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout_s)) as conn:
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (SCHEMA_VERSION_TABLE,),
            ).fetchone()
            revision = (
                conn.execute(f"SELECT version_num FROM {SCHEMA_VERSION_TABLE}").fetchone()
                if has_table
                else None
            )
            current = revision[0] if revision else None
            if current != SCHEMA_HEAD:
                raise NotReadableHere(f"schema revision {current}, not {SCHEMA_HEAD}")
            row = conn.execute(_ACTIVE).fetchone()
    except sqlite3.Error as exc:
        raise NotReadableHere(str(exc)) from exc
    return None if row is None else ActiveText(int(row[0]), str(row[1]), str(row[2]))
