"""The HTTP surface: /metrics, /healthz, /readyz; and what the logs may say about a caller."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import structlog
from ivr_testing import Harness, inside_number
from structured_log import log_lines

from ivr.controller.http import bound_port, make_app, start_server


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    runner = await start_server(make_app(harness.controller), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{bound_port(runner)}"
    finally:
        await runner.cleanup()


async def test_metrics_count_a_call(
    harness: Harness, http: tuple[aiohttp.ClientSession, str]
) -> None:
    session, base = http
    call_id = harness.call(inside_number(harness.snapshot), dialled="+19055550100")
    await harness.in_greeting(call_id)
    harness.switch.press(call_id, "0")
    await harness.until(lambda: bool(harness.record(call_id).bridged_with))
    harness.switch.hangup_caller(call_id)
    await harness.ended(call_id)
    async with session.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")
    }
    assert all(name.startswith("ivr311_") for name in names)
    assert 'ivr311_calls_offered_total{dialled="+19055550100"} 1.0' in text
    assert 'ivr311_zero_outs_total{where="greeting"} 1.0' in text
    assert 'ivr311_answer_to_person_seconds_bucket{kind="agent",le="20.0"} 1.0' in text
    assert 'ivr311_answer_to_person_seconds_bucket{kind="agent",le="30.0"} 1.0' in text
    assert "ivr311_ari_connected 1.0" in text
    assert "ivr311_decision_seconds_count" in text


async def test_health_and_readiness(
    harness: Harness, http: tuple[aiohttp.ClientSession, str]
) -> None:
    session, base = http
    async with session.get(f"{base}/healthz") as resp:
        assert resp.status == 200
    async with session.get(f"{base}/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["ready"] is True
    await harness.fake.stop_listening()  # Asterisk goes away
    async with session.get(f"{base}/readyz") as resp:
        assert resp.status == 503
        assert (await resp.json())["ari_connected"] is False


async def test_readiness_is_false_while_draining(
    harness: Harness, http: tuple[aiohttp.ClientSession, str]
) -> None:
    session, base = http
    await harness.controller.drain(timeout_s=0)
    async with session.get(f"{base}/readyz") as resp:
        assert resp.status == 503
        assert (await resp.json())["accepting_calls"] is False


async def test_logs_carry_the_call_id_and_never_the_full_calling_number(
    harness: Harness,
) -> None:
    sink = io.StringIO()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=sink),
    )
    try:
        number = inside_number(harness.snapshot)
        call_id = harness.call(number)
        await harness.skip_greeting(call_id)
        await harness.until(lambda: bool(harness.record(call_id).bridged_with))
        harness.switch.hangup_caller(call_id)
        await harness.ended(call_id)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in log_lines(sink.getvalue())]
    call_lines = [line for line in lines if line["event"].startswith("call.")]
    assert call_lines and all(line["call_id"] == call_id for line in call_lines)
    assert number not in sink.getvalue()
    assert number[4:] not in sink.getvalue()
    assert all(line["caller"].startswith(number[:6] + "-") for line in call_lines)
    record = next(line for line in lines if line["event"] == "call.decision_record")
    assert record["outcome"] == "completed" and record["evidence"] == "exchange"
