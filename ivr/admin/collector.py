"""Prometheus gauges derived from the active rules: is the host open, is an override on.

These feed two alerts (no calls during business hours; an override left on past its expiry),
so they are computed at scrape time from the snapshot new calls use, in each schedule's own
time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from routing_rules.schedules import schedule_state
from routing_rules.snapshot import RuleSnapshot


class RulesStateCollector(Collector):
    """``ivr311_host_open`` and ``ivr311_emergency_override_*`` for the active snapshot."""

    def __init__(
        self,
        snapshot: Callable[[], RuleSnapshot | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        host_open = GaugeMetricFamily(
            "ivr311_host_open",
            "1 while the host's contact centre is open by its schedule (override and holidays "
            "included)",
        )
        active = GaugeMetricFamily(
            "ivr311_emergency_override_active",
            "1 while a schedule's emergency override is switched on in the active rules",
            labels=["schedule"],
        )
        expires = GaugeMetricFamily(
            "ivr311_emergency_override_expires_timestamp_seconds",
            "Unix time an active emergency override expires (0: no expiry)",
            labels=["schedule"],
        )
        snapshot = self._snapshot()
        if snapshot is not None:
            rules = snapshot.rules
            now = self._clock()
            host = rules.host.schedule
            is_open = schedule_state(host, rules.schedules[host], now).open
            host_open.add_metric([], 1.0 if is_open else 0.0)
            for name, schedule in rules.schedules.items():
                override = schedule.emergency_override
                on = override is not None and override.active
                active.add_metric([name], 1.0 if on else 0.0)
                if override is not None and on:
                    moment = override.expires
                    if moment is not None and moment.tzinfo is None:
                        moment = moment.replace(tzinfo=ZoneInfo(schedule.timezone))
                    expires.add_metric([name], moment.timestamp() if moment else 0.0)
        yield host_open
        yield active
        yield expires
