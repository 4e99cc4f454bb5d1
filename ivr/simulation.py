"""A controller wired to the in-process simulated switch (`ivr.fakeari`) over loopback.

Used by ``ivr311 run`` when no Asterisk is configured, by ``ivr311 demo``, by the tests and by
the benchmark: the controller talks to the fake exactly as it talks to Asterisk, through the real
ARI client over HTTP and WebSocket.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from pydantic import SecretStr

from ivr.controller import Controller
from ivr.fakeari import FakeAri, FakeSwitch, Outcome
from ivr.rules_source import RulesSource
from ivr.settings import Settings

SIM_USER = "ivr311"

DESTINATION_ANSWERS = Outcome(kind="answer", after_s=1.0, press="1", hangup_after_s=8.0)
"""A simulated contact centre: answers after a second, presses 1 after the whisper and ends the
conversation a few seconds later."""


def simulated_settings(settings: Settings, fake: FakeAri) -> Settings:
    """``settings`` pointed at the fake ARI."""
    return settings.model_copy(
        update={
            "ari_url": fake.url,
            "ari_user": fake.user,
            "ari_password": SecretStr(fake.password),
        }
    )


@asynccontextmanager
async def simulated_controller(
    settings: Settings,
    rules: RulesSource,
    *,
    switch: FakeSwitch | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_pending_per_call: int = 64,
) -> AsyncIterator[tuple[FakeAri, Controller]]:
    """Start a fake ARI on a free loopback port and a controller connected to it."""
    fake = FakeAri(
        user=SIM_USER,
        password=secrets.token_urlsafe(12),
        switch=switch or FakeSwitch(playback_s=0.3, default_outcome=DESTINATION_ANSWERS),
    )
    async with fake:
        controller = Controller(
            simulated_settings(settings, fake),
            rules,
            clock=clock,
            max_pending_per_call=max_pending_per_call,
        )
        async with controller:
            await controller.stream.wait_connected(10)
            await controller.reconciled.wait()
            yield fake, controller
