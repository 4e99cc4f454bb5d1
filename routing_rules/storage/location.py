"""Which rule store a command uses when none is named: one per user, the same from any directory.

``--database`` or ``$IVR311_DATABASE_URL`` name a store; otherwise it is the SQLite file
``$XDG_STATE_HOME/ivr311/rules.db`` (``~/.local/state/ivr311/rules.db`` when ``XDG_STATE_HOME``
is unset or relative). An absolute path, so a command run from any directory, the controller
and the AGI (which Asterisk starts in its own directory) all find the same store. This module
imports nothing heavy: the AGI resolves the URL before deciding what to load.
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "IVR311_DATABASE_URL"
STATE_HOME_ENV = "XDG_STATE_HOME"
DATABASE_FILE = "rules.db"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/ivr311``, else ``~/.local/state/ivr311`` (the XDG base directories)."""
    configured = os.environ.get(STATE_HOME_ENV, "").strip()
    base = Path(configured) if configured and os.path.isabs(configured) else None
    return (base or Path.home() / ".local" / "state") / "ivr311"


def default_database_path() -> Path:
    return state_dir() / DATABASE_FILE


def default_database_url() -> str:
    """The SQLite URL of `default_database_path` (``sqlite:////home/me/.local/state/…``)."""
    return f"sqlite:///{default_database_path()}"


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``$IVR311_DATABASE_URL``, else `default_database_url`."""
    chosen = explicit or os.environ.get(DATABASE_URL_ENV, "").strip()
    return chosen or default_database_url()
