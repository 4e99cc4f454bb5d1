"""The rule store: immutable versions, atomic activation with optimistic concurrency, rollback.

SQLite is the embedded default; PostgreSQL is the shared store for several controllers, and
there every activation sends ``NOTIFY ivr311_rules`` inside its transaction, so listeners hear
of a version only once it is committed.

Opening a store costs one query when its schema is current: Alembic is imported and run only
when a migration is due, which keeps short-lived readers (``ivr311-agi``) quick.

What it refuses is raised as the errors of `routing_rules.storage.errors`; which URLs name a
store, and the engine of one, are `routing_rules.storage.database`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from routing_rules.geoview import GeoLookup
from routing_rules.snapshot import RuleSnapshot, content_hash, snapshot_from_text
from routing_rules.storage.database import WRITE_OPTION, make_engine
from routing_rules.storage.errors import (
    AlreadyActive,
    ConflictCause,
    ConflictError,
    StoreError,
    StoreUnavailable,
    VersionNotFound,
    failure_reason,
)
from routing_rules.storage.location import database_url
from routing_rules.storage.reader import SCHEMA_HEAD, SCHEMA_VERSION_TABLE
from routing_rules.storage.tables import ActivationRow, ActiveRow, RuleVersionRow
from routing_rules.validation import check_text

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "ivr311_rules"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""The Alembic scripts that bring a store's schema to `SCHEMA_HEAD`."""
_MIGRATION_LOCK_ID = 3110311


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One immutable rule version with its audit fields."""

    version: int
    content: str
    content_hash: str
    geo_hash: str | None
    host_id: str
    author: str
    comment: str
    created_at: datetime
    base_version: int | None


@dataclass(frozen=True, slots=True)
class Activation:
    """One apply or rollback: which version became active, replacing which, by whom."""

    id: int
    version: int
    previous_version: int | None
    action: str
    author: str
    comment: str
    activated_at: datetime


@dataclass(frozen=True, slots=True)
class ApplyResult:
    version: int
    previous_version: int | None
    unchanged: bool = False


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class RuleStore:
    """Versioned rule sets in a SQL database (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> RuleStore:
        """Connect and bring the schema up to date (Alembic, run in-process, when due).

        ``create=False`` is for commands that only read: a SQLite file that does not exist
        raises `NoRuleStore` instead of being created empty. A store that cannot be opened
        (unreachable server, unusable URL, unreadable file) raises `StoreUnavailable`.
        """
        engine = make_engine(database_url(url), create=create)
        store = cls(engine)
        try:
            if store.schema_revision() != SCHEMA_HEAD:
                store.migrate()
        except (SQLAlchemyError, OSError) as exc:
            store.close()
            raise StoreUnavailable(
                f"cannot open the rule store {_shown(engine.url)}: {failure_reason(exc)}"
            ) from exc
        except BaseException:
            store.close()
            raise
        return store

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> RuleStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def schema_revision(self) -> str | None:
        """The schema's migration revision; ``None`` before the first migration."""
        with self.engine.connect() as conn:
            if not self.engine.dialect.has_table(conn, SCHEMA_VERSION_TABLE):
                return None
            revision = conn.execute(
                text(f"SELECT version_num FROM {SCHEMA_VERSION_TABLE}")
            ).scalar()
        return None if revision is None else str(revision)

    def migrate(self) -> None:
        """Run Alembic's upgrade to the newest revision (a no-op when the schema is current)."""
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._write() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:  # e.g. a store migrated by a newer ivr311
                raise StoreError(f"cannot migrate the rule store: {exc}") from exc

    # -- reading --------------------------------------------------------------------------

    def active_version(self) -> int | None:
        """The active version number: one indexed read, cheap enough to poll."""
        with self.engine.connect() as conn:
            return conn.execute(select(ActiveRow.version).where(ActiveRow.id == 1)).scalar()

    def get(self, version: int) -> StoredVersion:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(RuleVersionRow).where(RuleVersionRow.version == version)
            ).first()
        if row is None:
            raise VersionNotFound(version)
        return _stored(row._mapping)

    def active(self) -> StoredVersion | None:
        version = self.active_version()
        return None if version is None else self.get(version)

    def versions(self) -> list[StoredVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(RuleVersionRow).order_by(RuleVersionRow.version)).all()
        return [_stored(r._mapping) for r in rows]

    def activations(self) -> list[Activation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(ActivationRow).order_by(ActivationRow.id)).all()
        return [
            Activation(
                id=r.id,
                version=r.version,
                previous_version=r.previous_version,
                action=r.action,
                author=r.author,
                comment=r.comment,
                activated_at=_utc(r.activated_at),
            )
            for r in rows
        ]

    def diff(self, old: int, new: int) -> str:
        """A unified diff of two versions' texts (empty when they are the same)."""
        return unified_diff(
            self.get(old).content, self.get(new).content, f"version {old}", f"version {new}"
        )

    def load_snapshot(self, geo: GeoLookup, version: int | None = None) -> RuleSnapshot | None:
        """The active version (or ``version``) as a snapshot; ``None`` when nothing is active."""
        stored = self.get(version) if version is not None else self.active()
        if stored is None:
            return None
        return snapshot_from_text(
            stored.content, geo, source=f"store:version {stored.version}", version=stored.version
        )

    # -- changing -------------------------------------------------------------------------

    def apply(
        self,
        content: str,
        *,
        author: str,
        comment: str,
        base_version: int | None,
        geo: GeoLookup,
        check_base: bool = True,
    ) -> ApplyResult:
        """Validate, store and activate ``content`` as a new version, all or nothing.

        ``base_version`` is the version the change started from; if another version has been
        activated since, :class:`ConflictError` is raised and nothing changes. Invalid content
        raises ``RuleSetInvalid`` before the database is touched, and so does an emergency
        override that is on but already expired (a rollback does not refuse one: the version
        was valid when it was applied, and the expired override simply does nothing).
        """
        report = check_text(content, geo, "rule set", now=datetime.now(UTC))
        assert report.rules is not None
        digest = content_hash(content)
        with self._transaction() as conn:
            active = self._locked_active(conn)
            if check_base and active != base_version:
                raise ConflictError(base_version, active)
            if active is not None:
                active_hash = conn.execute(
                    select(RuleVersionRow.content_hash).where(RuleVersionRow.version == active)
                ).scalar_one()
                if active_hash == digest:
                    return ApplyResult(active, active, unchanged=True)
            now = datetime.now(UTC)
            version = conn.execute(
                insert(RuleVersionRow)
                .values(
                    content=content,
                    content_hash=digest,
                    geo_hash=geo.content_hash,
                    host_id=report.rules.host.id,
                    author=author,
                    comment=comment,
                    created_at=now,
                    base_version=active,
                )
                .returning(RuleVersionRow.version)
            ).scalar_one()
            self._activate(conn, version, active, "apply", author, comment, now)
        log.info("rules.applied", version=version, previous=active, author=author)
        return ApplyResult(version, active)

    def rollback(
        self,
        version: int,
        *,
        author: str,
        comment: str,
        geo: GeoLookup,
        base_version: int | None = None,
    ) -> Activation:
        """Re-activate an older version (it is validated again against today's geodata)."""
        stored = self.get(version)
        check_text(stored.content, geo, f"version {version}")
        with self._transaction() as conn:
            active = self._locked_active(conn)
            if base_version is not None and active != base_version:
                raise ConflictError(base_version, active)
            if active == version:
                raise AlreadyActive(version)
            now = datetime.now(UTC)
            activation = self._activate(conn, version, active, "rollback", author, comment, now)
        log.info("rules.rolled_back", version=version, previous=active, author=author)
        return activation

    def write_transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction for other tables of the store (call records): on SQLite it
        takes the write lock at once, as rule changes do."""
        return self._write()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (committed on success, rolled back on any exception)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._write() as conn:
                yield conn
        except IntegrityError as exc:
            # Two first applies raced to create the active row; the loser lands here.
            raise ConflictError(None, self.active_version(), ConflictCause.CONCURRENT) from exc

    @staticmethod
    def _locked_active(conn: Connection) -> int | None:
        """The active version, row-locked on PostgreSQL so concurrent changes queue up."""
        query = select(ActiveRow.version).where(ActiveRow.id == 1).with_for_update()
        return conn.execute(query).scalar()

    def _activate(
        self,
        conn: Connection,
        version: int,
        active: int | None,
        action: str,
        author: str,
        comment: str,
        now: datetime,
    ) -> Activation:
        activation_id = conn.execute(
            insert(ActivationRow)
            .values(
                version=version,
                previous_version=active,
                action=action,
                author=author,
                comment=comment,
                activated_at=now,
            )
            .returning(ActivationRow.id)
        ).scalar_one()
        if active is None:
            conn.execute(
                insert(ActiveRow).values(id=1, version=version, activation_id=activation_id)
            )
        else:
            swapped = conn.execute(
                update(ActiveRow)
                .where(ActiveRow.id == 1, ActiveRow.version == active)
                .values(version=version, activation_id=activation_id)
            ).rowcount
            if swapped != 1:
                raise ConflictError(active, None, ConflictCause.CONCURRENT)
        if self.is_postgres:
            payload = json.dumps({"version": version, "action": action})
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": NOTIFY_CHANNEL,
                    "payload": payload,
                },
            )
        return Activation(activation_id, version, active, action, author, comment, now)


def _stored(row: object) -> StoredVersion:
    mapping = dict(row)  # type: ignore[call-overload]
    return StoredVersion(
        version=mapping["version"],
        content=mapping["content"],
        content_hash=mapping["content_hash"],
        geo_hash=mapping["geo_hash"],
        host_id=mapping["host_id"],
        author=mapping["author"],
        comment=mapping["comment"],
        created_at=_utc(mapping["created_at"]),
        base_version=mapping["base_version"],
    )


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
