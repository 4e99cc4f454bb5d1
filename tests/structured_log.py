"""The log as production writes it, captured in tests: one JSON event per line on stderr."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from ivr.logs import configure_logging


def log_lines(text: str) -> list[str]:
    """The lines of a JSON-lines log, each ended by "\\n" and by nothing else: a logged value
    may hold U+0085 or U+2028, which JSON leaves as they are and `str.splitlines` would take
    for line ends."""
    return [line.removesuffix("\n") for line in io.StringIO(text, newline="\n")]


@contextmanager
def production_log() -> Iterator[list[dict[str, Any]]]:
    """The JSON log every ivr311 process writes on stderr (every level, the standard library's
    loggers such as aiohttp's included) while the block runs, parsed one event per line; filled
    in when the block ends. A line that is not one JSON object, or that holds a traceback,
    fails the test. Whatever the block configures (``configure_logging``) is undone."""
    previous = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    events: list[dict[str, Any]] = []
    real_stderr = sys.stderr
    sys.stderr = stream
    try:
        configure_logging("json", "DEBUG")
        yield events
    finally:
        sys.stderr = real_stderr
        structlog.configure(**previous)
        root.handlers[:] = handlers
        root.setLevel(level)
    text = stream.getvalue()
    assert "Traceback" not in text, text
    for line in log_lines(text):
        event = json.loads(line)
        assert isinstance(event, dict), line
        events.append(event)
