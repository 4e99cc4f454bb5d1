"""Regenerate the dialplan when a rule version becomes active, and have Asterisk reload it.

``regenerate_dialplan`` is what the rules apply path (or a controller that sees a new active
version) calls. The file is replaced atomically and ``dialplan reload`` swaps the contexts in
one step: calls inside Stasis are untouched, and a call in the fallback finishes the
application it is running (a Dial, a Playback) before it reads the new dialplan.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import structlog

from dialplan.asterisk_conf import write_dialplan
from dialplan.options import DialplanOptions
from routing_rules.snapshot import RuleSnapshot

log = structlog.get_logger(__name__)


class ReloadError(RuntimeError):
    """Asterisk could not be asked to reload, or refused."""


def reload_dialplan(asterisk_conf: Path | None = None, *, timeout_s: float = 10.0) -> str:
    """Run ``asterisk -rx 'dialplan reload'`` (with ``-C`` for a rendered configuration)."""
    binary = shutil.which("asterisk")
    if binary is None:
        raise ReloadError("no asterisk binary on PATH")
    command = [binary]
    if asterisk_conf is not None:
        command += ["-C", str(asterisk_conf)]
    command += ["-rx", "dialplan reload"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ReloadError("asterisk did not answer the reload request") from exc
    except OSError as exc:
        raise ReloadError(f"cannot run {binary}: {exc}") from exc
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or "Unable to connect" in output:
        raise ReloadError(f"dialplan reload failed: {output}")
    return output


def regenerate_dialplan(
    snapshot: RuleSnapshot,
    path: Path,
    options: DialplanOptions | None = None,
    *,
    reload: bool = True,
    asterisk_conf: Path | None = None,
) -> Path:
    """Write the dialplan of ``snapshot`` to ``path`` and, when asked, reload Asterisk."""
    write_dialplan(snapshot, path, options or DialplanOptions())
    log.info("dialplan.written", path=str(path), version=snapshot.version, source=snapshot.source)
    if reload:
        reload_dialplan(asterisk_conf)
        log.info("dialplan.reloaded", version=snapshot.version)
    return path
