"""A log line is one JSON object ended by a newline, whatever text a logged value holds: a log
shipper that reads JSON lines gets one event per line, each value as it was logged, and
logging never fails."""

from __future__ import annotations

import structlog
from hypothesis import given
from hypothesis import strategies as st
from structured_log import production_log

LINE_BREAKING = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character `str.splitlines` ends a line at: only "\\n" ends a JSON line."""
LONE_SURROGATES = "\ud800\udbff\udc00\udfff"
"""Python text may hold them (a JSON ``"\\ud800"`` escape read by the standard library, a file
name decoded with ``surrogateescape``); UTF-8 cannot."""
ANY_TEXT = st.text(
    alphabet=st.sampled_from(LINE_BREAKING + LONE_SURROGATES) | st.characters(), max_size=40
)


def as_written(value: str) -> str:
    """``value`` as a log line carries it: each lone surrogate as U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)


@given(value=ANY_TEXT)
def test_any_logged_value_stays_on_one_line_as_logged(value: str) -> None:
    with production_log() as events:
        structlog.get_logger("test").warning("http.refused", path=value, status=400)
    assert [(e["event"], e["path"], e["status"]) for e in events] == [
        ("http.refused", as_written(value), 400)
    ]
