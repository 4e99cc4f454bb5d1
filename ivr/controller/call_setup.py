"""What the controller's calls get from its settings: the settings each call runs with, and
the store their records go to when they end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ivr.call import CallSettings, Scheduler
from ivr.metrics import Metrics
from ivr.records import CallRecords
from ivr.settings import Settings
from routing_rules.storage.call_records import CallRecordStore
from routing_rules.storage.store import RuleStore


def call_settings(settings: Settings) -> CallSettings:
    return CallSettings(
        dial_endpoint=settings.dial_endpoint,
        fallback_context=settings.fallback_context,
        accept_timeout_s=settings.accept_timeout_s,
        ring_grace_s=settings.ring_grace_s,
        hold_music_class=settings.hold_music_class,
        transfers=settings.transfers,
    )


def records_in_store(
    store: RuleStore | None,
    metrics: Metrics,
    settings: Settings,
    clock: Callable[[], datetime],
    scheduler: Scheduler,
) -> CallRecords | None:
    """The rule store's call records, their writer's pauses on the calls' ``scheduler``."""
    if store is None:
        return None
    return CallRecords(
        CallRecordStore(store),
        metrics,
        capacity=settings.call_records_queue,
        retention_days=settings.call_records_retention_days,
        clock=clock,
        scheduler=scheduler,
    )
