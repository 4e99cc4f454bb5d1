"""A controller that cannot open the event socket says where it tried and why, one JSON event
per attempt (no traceback, no password), and keeps trying."""

from __future__ import annotations

import socket
from typing import Any

from ari_testing import APP, FAST_BACKOFF, PASSWORD, USER, BackoffProbe, EventCollector
from structured_log import production_log

from ivr.ari import AriEventStream
from switchsim import FakeAri


async def failed_attempts(url: str, password: str = PASSWORD) -> list[dict[str, Any]]:
    """The events of the first three failed connects to ``url``."""
    backoffs = BackoffProbe()
    stream = AriEventStream(url, USER, password, APP, backoff=FAST_BACKOFF, rand=backoffs.draw)
    collector = EventCollector(stream)
    with production_log() as events:
        collector.start()
        await backoffs.wait_count(3)
        await collector.close()
    assert not stream.connected
    assert all(password not in str(event) for event in events)
    return [e for e in events if e["event"] in ("ari.connect_failed", "ari.auth_refused")]


async def test_a_port_nobody_listens_on_is_named_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failed = await failed_attempts(f"http://127.0.0.1:{port}")
    assert len(failed) >= 3
    first = failed[0]
    assert first["url"] == f"ws://127.0.0.1:{port}/ari/events?app={APP}"
    assert first["error_type"] == "ClientConnectorError"
    assert "Connect call failed" in first["reason"]


async def test_a_wrong_password_is_named_as_such(fake: FakeAri) -> None:
    failed = await failed_attempts(fake.url, password="not-the-password")
    assert failed and all(e["event"] == "ari.auth_refused" for e in failed)
    assert failed[0]["status"] == 401
    assert failed[0]["url"].endswith(f"/ari/events?app={APP}")
    assert "IVR311_ARI_USER and IVR311_ARI_PASSWORD" in failed[0]["reason"]


async def test_a_host_name_that_does_not_resolve_is_named() -> None:
    failed = await failed_attempts("http://ivr311-asterisk.invalid:8088")
    assert failed[0]["url"].startswith("ws://ivr311-asterisk.invalid:8088/")
    assert failed[0]["error_type"] == "ClientConnectorDNSError"
