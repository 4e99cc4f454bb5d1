"""Fuzzing ``ivr311-agi``: a valid AGI environment and arguments, mutated (values replaced by any
text, huge or garbled numbers and keys, lines without a colon, bytes that are not UTF-8, the
blank line missing, arguments wrong). Whatever comes in, the dialplan gets something to do, the
log is JSON events without a traceback, and one call's memory stays bounded."""

from __future__ import annotations

import pytest
from agi_testing import MONDAY_MORNING, agi_in_process
from fuzzing import allocation_peak, fuzz_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structured_log import production_log

from ivr.agi.script import MAX_VALUE_CHARS

ENVIRONMENT = {
    "agi_request": "ivr311-agi",
    "agi_channel": "PJSIP/carrier-00000001",
    "agi_language": "en",
    "agi_type": "PJSIP",
    "agi_callerid": "9056230123",
    "agi_calleridname": "unknown",
    "agi_context": "ivr311-agi-test",
    "agi_extension": "311",
    "agi_dnid": "311",
    "agi_priority": "2",
}
ARGUMENTS = ["--rules", "durham", "--at", MONDAY_MORNING.isoformat()]
MAX_CALL_BYTES = 64 * 1024 * 1024
"""What one call may allocate besides the rules and geodata loaded once per process."""

numbers = st.one_of(
    st.sampled_from(["anonymous", "Restricted", "unknown", "", "+19056230123", "19056230123"]),
    st.text(alphabet="0123456789+*#ABCD -()", max_size=40),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "9" * n),
)
values = st.one_of(numbers, st.text(max_size=60))
lines = st.one_of(
    st.builds(lambda k, v: f"{k}: {v}".encode(), st.sampled_from(sorted(ENVIRONMENT)), values),
    st.binary(max_size=80),
    st.text(max_size=40).map(str.encode),
).map(lambda line: b"x" + line.replace(b"\r", b"").replace(b"\n", b""))
"""Lines Asterisk could not send: any bytes, but one line (an empty line would end the
environment) each."""
arguments = st.one_of(
    st.just(ARGUMENTS),
    st.lists(
        st.sampled_from(
            [*ARGUMENTS, "yesterday", "--language", "fr", "de", "--dial-endpoint", "", "--x"]
        ),
        max_size=6,
    ),
)


@st.composite
def agi_inputs(draw: st.DrawFn) -> tuple[bytes, list[str], bool]:
    """(stdin, argv, whether Asterisk stays): the environment with some values replaced and
    lines added or dropped; without the blank line that ends it, Asterisk went away."""
    environment = dict(ENVIRONMENT)
    for key in draw(st.lists(st.sampled_from(sorted(ENVIRONMENT)), max_size=4)):
        environment[key] = draw(values)
    for key in draw(st.lists(st.sampled_from(sorted(ENVIRONMENT)), max_size=3)):
        environment.pop(key, None)
    rendered = [
        f"{k}: {v}".encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")
        for k, v in environment.items()
    ]
    rendered[draw(st.integers(0, len(rendered))) :] += draw(st.lists(lines, max_size=4))
    end = draw(st.sampled_from([b"\n\n", b"\n\n", b"\n\n", b"\n", b""]))
    return b"\n".join(rendered) + end, draw(arguments), end == b"\n\n"


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=agi_inputs())
def test_any_agi_input_leaves_the_dialplan_something_to_do(
    traced_memory: None, case: tuple[bytes, list[str], bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    fuzz_case("agi")
    stdin, argv, asterisk_stays = case
    with production_log() as events, allocation_peak() as peak:
        code, variables = agi_in_process(stdin, argv, monkeypatch, replies=asterisk_stays)
    assert peak[0] < MAX_CALL_BYTES
    if not asterisk_stays:
        assert code == 1
        assert [e["event"] for e in events if e["level"] == "error"][-1] == "agi.channel_lost"
        return
    assert code == 0
    assert variables["IVR311_DEST"] or variables["IVR311_MESSAGE"]
    assert variables["IVR311_REASON"]
    for value in variables.values():
        assert len(value) <= MAX_VALUE_CHARS and value.isprintable() and '"' not in value
    failures = [e for e in events if e["level"] == "error"]
    if variables["IVR311_ACTION"] == "error":
        assert [e["event"] for e in failures] == ["agi.failed"]
    else:
        assert failures == []
