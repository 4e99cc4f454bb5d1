"""A throwaway PostgreSQL server on a free loopback port, for store-outage tests and benchmarks.

A rule-store outage cannot be staged on the machine's own PostgreSQL (others use it), so this
makes a private cluster with the server's own ``initdb`` and ``pg_ctl`` in a temporary
directory, stops it on demand the way a crash looks to clients (``pg_ctl stop -m immediate``:
every connection reset at once, nothing listening on the port), starts it again on the same port
and data, and removes it at the end. ``initdb`` refuses to run as root, so as root the cluster
belongs to the ``postgres`` user (``runuser``); `ThrowawayPostgres.create` raises
`PostgresUnavailable` saying why when none of this is possible here.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

SERVER_USER = "postgres"
"""The system user that owns the cluster when this runs as root."""
COMMAND_TIMEOUT_S = 60.0


class PostgresUnavailable(Exception):
    """No private PostgreSQL can run on this machine; the message says why."""


def _bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailable(
            "no initdb on PATH or in /usr/lib/postgresql/*/bin (install the postgresql package)"
        )
    return candidates[-1].parent


def _run_as() -> list[str]:
    """The prefix that runs a server command as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and no runuser to become the postgres user")
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(f"running as root and there is no {SERVER_USER!r} user") from exc
    return [runuser, "-u", SERVER_USER, "--"]


def free_loopback_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """A private PostgreSQL cluster (see the module docstring); `close` removes it."""

    def __init__(self, root: Path, bindir: Path, prefix: list[str], port: int) -> None:
        self.root = root
        self.port = port
        self._bindir = bindir
        self._prefix = prefix
        self.running = False

    @classmethod
    def create(cls) -> ThrowawayPostgres:
        """Initialise a cluster in a new temporary directory (not started yet)."""
        bindir = _bindir()
        prefix = _run_as()
        root = Path(tempfile.mkdtemp(prefix="ivr311-pg-"))
        cluster = cls(root, bindir, prefix, free_loopback_port())
        try:
            if prefix:
                shutil.chown(root, user=SERVER_USER)
            cluster._pg(
                "initdb",
                "--pgdata",
                str(root / "data"),
                "--auth=trust",
                f"--username={SERVER_USER}",
                "--encoding=UTF8",
                "--no-sync",
            )
        except BaseException:
            cluster.close()
            raise
        return cluster

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str) -> None:
        command = [*self._prefix, str(self._bindir / program), *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{program} could not run: {exc}") from exc
        if done.returncode != 0:
            detail = " ".join((done.stderr or done.stdout).split())[-400:]
            raise PostgresUnavailable(f"{program} failed ({done.returncode}): {detail}")

    def start(self) -> None:
        """Start the server (again) on its port and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        self._pg(
            "pg_ctl",
            "start",
            "--pgdata",
            str(self.root / "data"),
            "--log",
            str(self.root / "server.log"),
            "--wait",
            "--timeout=60",
            "-o",
            options,
        )
        self.running = True

    def stop(self) -> None:
        """Stop the server at once, as a crash would: clients see their connections reset."""
        self._pg("pg_ctl", "stop", "--pgdata", str(self.root / "data"), "--mode=immediate")
        self.running = False

    def close(self) -> None:
        """Stop the server if it runs and remove the cluster's directory."""
        if self.running:
            with contextlib.suppress(PostgresUnavailable):
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
