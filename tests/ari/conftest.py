"""Fixtures: a fake ARI on loopback (on a switch a test may configure), a client and an event
collector bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ari_testing import APP, FAST_BACKOFF, PASSWORD, USER, EventCollector

from ivr.ari import AriClient, AriEventStream
from ivr.ari.socket_requests import SocketRequests
from switchsim import FakeAri, FakeSwitch


@pytest.fixture
def switch(request: pytest.FixtureRequest) -> FakeSwitch:
    """The switch behind `fake`: ``FakeSwitch(**options)`` for a test marked
    ``@pytest.mark.parametrize("switch", [options], indirect=True)``, else a default one."""
    return FakeSwitch(**getattr(request, "param", {}))


@pytest.fixture
async def fake(switch: FakeSwitch) -> AsyncIterator[FakeAri]:
    async with FakeAri(user=USER, password=PASSWORD, switch=switch) as server:
        yield server


@pytest.fixture(params=["http", "socket"])
def socket_requests(request: pytest.FixtureRequest) -> SocketRequests | None:
    """How `client` sends its requests: each test runs over HTTP, and again on the socket of
    `events` (`SocketRequests`)."""
    return SocketRequests() if request.param == "socket" else None


@pytest.fixture
async def client(
    fake: FakeAri, events: EventCollector, socket_requests: SocketRequests | None
) -> AsyncIterator[AriClient]:
    """A client for APP; the application is connected (calls placed enter it)."""
    async with AriClient(
        fake.url, USER, PASSWORD, APP, timeout_s=5.0, socket=socket_requests
    ) as ari:
        yield ari


@pytest.fixture
async def events(
    fake: FakeAri, socket_requests: SocketRequests | None
) -> AsyncIterator[EventCollector]:
    """A connected event stream for APP, collecting events (its socket proved for requests,
    when they go on it)."""
    collector = EventCollector(
        AriEventStream(
            fake.url, USER, PASSWORD, APP, backoff=FAST_BACKOFF, requests=socket_requests
        )
    )
    collector.start()
    await collector.stream.wait_connected(5)
    if socket_requests is not None:
        async with asyncio.timeout(5):
            assert await socket_requests.proved()
    yield collector
    await collector.close()
