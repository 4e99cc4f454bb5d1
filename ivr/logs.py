"""Structured logging, configured once per process for every command."""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    """A logger on the current ``sys.stderr``, looked up when a log line is made.

    Binding the stream once at configuration would keep writing to a stream that has since
    been replaced and closed (a test's captured stderr, a daemon's reopened log).
    """
    return structlog.PrintLogger(sys.stderr)


def configure_logging(fmt: LogFormat | None = None, level: str | None = None) -> None:
    """Route structlog and the standard library's logging to stderr.

    JSON is the production format; a terminal gets the readable console renderer unless
    ``IVR311_LOG_FORMAT`` says otherwise.
    """
    chosen_fmt: str = (
        fmt
        or os.environ.get("IVR311_LOG_FORMAT", "")
        or ("console" if sys.stderr.isatty() else "json")
    )
    chosen_level = (level or os.environ.get("IVR311_LOG_LEVEL", "INFO")).upper()
    numeric_level = logging.getLevelName(chosen_level)
    if not isinstance(numeric_level, int):
        raise ValueError(f"IVR311_LOG_LEVEL: unknown level {chosen_level!r}")

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if chosen_fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(stream=sys.stderr, level=max(numeric_level, logging.WARNING), force=True)
