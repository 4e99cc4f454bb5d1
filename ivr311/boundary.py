"""The ``ivr311`` command's one error boundary: no traceback ever reaches the person typing.

Every sub-command runs inside :func:`run_guarded`. A refusal of bad input that a command did not
word itself (an invalid rule set or geodata, an unreadable file, a store that cannot be used, a
wrong setting) is printed the way the commands word it and ends with its documented exit code;
a closed output pipe (``ivr311 rules history | head``) ends the command quietly; anything else
is a fault of ivr311 itself: one structured log event with the exception's type and message,
one line on stderr, and exit code 70.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import structlog

from geo.errors import GeoDataError
from ivr.settings import SettingsError
from routing_rules.cli_output import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    fail,
    print_invalid,
)
from routing_rules.storage.errors import StoreError
from routing_rules.validation import RuleSetInvalid

log = structlog.get_logger(__name__)


def run_guarded(command: str, handler: Callable[[], int]) -> int:
    """Run ``handler`` (the sub-command ``command``) and turn whatever it raises into an exit."""
    try:
        code = handler()
        sys.stdout.flush()  # a closed pipe is found here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except RuleSetInvalid as exc:
        return print_invalid(exc)
    except GeoDataError as exc:
        print("\n".join(exc.report_lines()), file=sys.stderr)
        return EXIT_INVALID
    except SettingsError as exc:
        print(f"ivr311: {exc}", file=sys.stderr)
        return SettingsError.exit_code
    except StoreError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(_os_error_text(exc))
    except Exception as exc:
        log.error("command_failed", command=command, error_type=type(exc).__name__, error=str(exc))
        return fail(
            f"ivr311 {command} failed: {type(exc).__name__}: {exc} (a fault in ivr311; "
            "nothing was changed after it)",
            EXIT_INTERNAL,
        )


def _os_error_text(exc: OSError) -> str:
    """``[Errno 2] No such file or directory: 'x'`` → ``x: No such file or directory``."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _silence_stdout() -> None:
    """After the reader of stdout went away, point stdout at /dev/null so that the
    interpreter's final flush does not fail again (the recipe of Python's ``signal`` docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
