"""A controller wired to the in-process simulated switch (`switchsim`) over loopback.

Used by ``ivr311 run`` when no Asterisk is configured, by ``ivr311 demo``, by the tests and by
the benchmark: the controller talks to the fake exactly as it talks to Asterisk, through the real
ARI client over HTTP and WebSocket.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from ivr.call import Scheduler
from ivr.call.observers import Observer
from ivr.controller.process import Controller
from ivr.controller.rules_source import RulesSource
from ivr.records import CallRecords
from ivr.settings import Settings
from routing_rules.schedules import next_change, schedule_state
from routing_rules.snapshot import RuleSnapshot
from switchsim import FakeAri, FakeSwitch, Outcome

SIM_USER = "ivr311"

DESTINATION_ANSWERS = Outcome(kind="answer", after_s=1.0, press="1", hangup_after_s=8.0)
"""A simulated contact centre: answers after a second, presses 1 after the whisper and ends the
conversation a few seconds later."""


def opening_hours_note(snapshot: RuleSnapshot, at: datetime) -> str:
    """Whether the host is open at ``at`` by its own schedule, and what that means for the
    scripted callers: outside hours every one of them takes the after-hours path."""
    rules = snapshot.rules
    name = rules.host.schedule
    schedule = rules.schedules[name]
    host = rules.host.name.en
    zone = schedule.timezone
    state = schedule_state(name, schedule, at)
    change = next_change(name, schedule, at)
    if change is None:
        when = "open 24/7" if state.open else state.reason.split(": ", 1)[-1]
    else:
        moment = change[0]  # in the schedule's time zone
        day = "%a" if moment - at < timedelta(days=6) else "%a %Y-%m-%d"
        when = f"{'until' if state.open else 'opens'} {moment:{day} %H:%M} {zone}"
    if state.open:
        return (
            f"{host} is open now ({when}): scripted calls hear the menus and reach the "
            "contact centres"
        )
    return (
        f"{host} is closed now ({when}): scripted calls take the after-hours path; "
        "`ivr311 demo` plays the daytime tour"
    )


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
    scheduler: Scheduler | None = None,
    records: CallRecords | None = None,
    extra_observers: Sequence[Observer] = (),
) -> AsyncIterator[tuple[FakeAri, Controller]]:
    """Start a fake ARI on a free loopback port and a controller connected to it (its calls'
    timers on ``scheduler``, by default the event loop; its call records kept by ``records``,
    by default in the rule store when there is one; ``extra_observers`` told of every call's
    transitions after the controller's own)."""
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
            scheduler=scheduler,
            records=records,
            extra_observers=extra_observers,
        )
        async with controller:
            await controller.stream.wait_connected(10)
            await controller.reconciled.wait()
            yield fake, controller
