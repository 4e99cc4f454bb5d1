"""A log line is one JSON object ended by a newline, whatever text a logged value holds: a log
shipper that reads JSON lines gets one event per line, each value as it was logged."""

from __future__ import annotations

import structlog
from hypothesis import given
from hypothesis import strategies as st
from structured_log import production_log

LINE_BREAKING = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character `str.splitlines` ends a line at: only "\\n" ends a JSON line."""


@given(value=st.text(alphabet=st.sampled_from(LINE_BREAKING) | st.characters(), max_size=40))
def test_any_logged_value_stays_on_one_line_as_logged(value: str) -> None:
    with production_log() as events:
        structlog.get_logger("test").warning("http.refused", path=value)
    assert [(e["event"], e["path"]) for e in events] == [("http.refused", value)]
