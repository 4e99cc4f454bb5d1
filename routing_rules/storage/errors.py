"""The errors of the rule store, and a database failure worded for people.

Every refusal is a `StoreError` whose message says why and what to do; the command line, the
admin API and the controller tell the kinds apart (a conflict, a missing version, a store that
cannot be opened) to word them their own way.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from sqlalchemy.exc import DBAPIError


class StoreError(Exception):
    """A rule-store operation was refused; the message says why and what to do."""


class ConflictCause(StrEnum):
    STALE_BASE = "stale_base"
    """Another version was activated after the one the change started from."""
    CONCURRENT = "concurrent"
    """Another change was activated while this one was being saved."""


class ConflictError(StoreError):
    """Another change was activated since the version this change started from.

    ``base`` is the version the change started from (``None``: an empty store), ``active`` the
    version active now (``None`` when it could not be read). The command line and the admin API
    word it, each with its own way of naming the version to start from again."""

    def __init__(
        self,
        base: int | None,
        active: int | None,
        cause: ConflictCause = ConflictCause.STALE_BASE,
    ) -> None:
        self.base = base
        self.active = active
        self.cause = cause
        super().__init__(f"conflict ({cause}): base version {base}, active version {active}")

    def situation(self) -> str:
        """What happened, as the admin whose change lost the race reads it; the command line
        and the admin API each add how to start again."""
        started = f"version {self.base}" if self.base is not None else "an empty store"
        if self.active is None:
            return (
                f"conflict: you started from {started} but another change was activated while "
                "this one was saved"
            )
        concurrently = " (activated concurrently)" if self.cause is ConflictCause.CONCURRENT else ""
        return (
            f"conflict: you started from {started} but version {self.active} is active now"
            f"{concurrently}"
        )


class NoRuleStore(StoreError):
    """A command that only reads found no SQLite store where it looked (and created none)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f'no rule store yet at {path}: `ivr311 rules apply durham -m "first rules"` '
            "creates it (or apply your own rule-set file), and so does `ivr311 run`, which "
            "seeds it with IVR311_RULES; --database or IVR311_DATABASE_URL names another store"
        )


class StoreUnavailable(StoreError):
    """The store could not be opened: unreachable, unreadable, or an unusable URL."""


class VersionNotFound(StoreError):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"no rule version {version}")


class AlreadyActive(StoreError):
    """A rollback to the version that is active already."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"version {version} is already active")


def failure_reason(exc: BaseException) -> str:
    """The driver's own message on one line, without SQLAlchemy's statement and links."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, OSError) and cause.strerror:
        detail = f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    else:
        detail = str(cause).split("\n(Background on this error", 1)[0]
    return re.sub(r"\s+", " ", detail).strip() or type(cause).__name__
