"""Whether a schedule is open at an instant, and why, in the schedule's own time zone.

Order of evaluation: emergency override, then exceptional periods, then statutory holidays and
named extra closures, then the weekly hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from routing_rules.schema import WEEKDAYS, EmergencyOverride, Schedule


@dataclass(frozen=True, slots=True)
class OpenState:
    """A schedule's verdict: ``rule`` is the path of the entry that decided, ``reason`` says why."""

    open: bool
    reason: str
    rule: str
    override: EmergencyOverride | None = None


@lru_cache(maxsize=64)
def _holiday_names(country: str, subdivision: str, year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return {day: str(name) for day, name in calendar.items()}


def holiday_name(country: str, subdivision: str, day: date) -> str | None:
    """The statutory holiday on ``day`` in a province, if any."""
    return _holiday_names(country, subdivision, day.year).get(day)


EVALUATED_YEARS = (1971, 2199)
"""The years a schedule is evaluated in (a simulated call, a rendered dialplan): time zones and
holidays are known there, and a look-ahead of days never leaves the calendar."""


def check_evaluated_year(moment: datetime) -> datetime:
    """``moment``, or ``ValueError`` when it lies outside :data:`EVALUATED_YEARS`."""
    first, last = EVALUATED_YEARS
    if not first <= moment.year <= last:
        raise ValueError(f"give a time in the years {first} to {last}")
    return moment


def aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as an aware time: a naive one is read in ``zone``."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def override_in_force(override: EmergencyOverride | None, at: datetime, zone: ZoneInfo) -> bool:
    if override is None or not override.active:
        return False
    return override.expires is None or at < aware(override.expires, zone)


def schedule_state(name: str, schedule: Schedule, at: datetime) -> OpenState:
    """Evaluate schedule ``name`` at the aware instant ``at``."""
    zone = ZoneInfo(schedule.timezone)
    local = at.astimezone(zone)
    stamp = f"{local:%a %Y-%m-%d %H:%M} {schedule.timezone}"
    path = f"schedules.{name}"
    override = schedule.emergency_override
    if override is not None and override_in_force(override, at, zone):
        until = f" until {override.expires:%Y-%m-%d %H:%M}" if override.expires else ""
        return OpenState(
            False,
            f"{stamp}: emergency override ({override.reason}){until}",
            f"{path}.emergency_override",
            override,
        )
    if schedule.always_open:
        return OpenState(True, f"{stamp}: open 24/7", f"{path}.always_open")
    for i, exception in enumerate(schedule.exceptions):
        if aware(exception.start, zone) <= at < aware(exception.end, zone):
            verb = "open" if exception.open else "closed"
            return OpenState(
                exception.open,
                f"{stamp}: {verb} for {exception.name}",
                f"{path}.exceptions[{i}]",
            )
    if schedule.holidays is not None:
        calendar = schedule.holidays
        holiday = holiday_name(calendar.country, calendar.subdivision, local.date())
        if holiday is not None:
            return OpenState(
                False,
                f"{stamp}: {holiday} ({calendar.country}-{calendar.subdivision} holiday)",
                f"{path}.holidays",
            )
    for i, closure in enumerate(schedule.extra_closures):
        if closure.date == local.date():
            return OpenState(
                False, f"{stamp}: closed for {closure.name}", f"{path}.extra_closures[{i}]"
            )
    weekday = WEEKDAYS[local.weekday()]
    wall = local.time().replace(tzinfo=None)
    for i, period in enumerate(schedule.weekly):
        if weekday in period.days and period.open <= wall < period.close:
            hours = f"{period.open:%H:%M}-{period.close:%H:%M}"
            return OpenState(True, f"{stamp}: within {hours}", f"{path}.weekly[{i}]")
    return OpenState(False, f"{stamp}: outside the weekly hours", f"{path}.weekly")


def one_off_changes(schedule: Schedule) -> list[datetime]:
    """The instants (aware) at which the schedule's state may change once, not by the week
    or at a midnight: exceptional periods' starts and ends, an active override's expiry."""
    zone = ZoneInfo(schedule.timezone)
    once: list[datetime] = []
    for exception in schedule.exceptions:
        once += [aware(exception.start, zone), aware(exception.end, zone)]
    override = schedule.emergency_override
    if override is not None and override.active and override.expires is not None:
        once.append(aware(override.expires, zone))
    return once


def _boundaries(schedule: Schedule, after: datetime, days: int) -> Iterator[datetime]:
    """Every instant after ``after`` where the schedule's state may change, in order, for
    ``days`` local days: weekly opening and closing times, local midnights (holidays and
    closures end there), exceptional periods' ends, the override's expiry."""
    zone = ZoneInfo(schedule.timezone)
    once = one_off_changes(schedule)
    first = after.astimezone(zone).date()
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        times = {time(0, 0)}
        for period in schedule.weekly:
            if WEEKDAYS[day.weekday()] in period.days:
                times |= {period.open, period.close}
        start = datetime.combine(day, time(0, 0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
        moments = {datetime.combine(day, t, tzinfo=zone) for t in times}
        moments |= {m for m in once if start <= m < end}
        yield from sorted(m for m in moments if m > after)


def next_change(
    name: str, schedule: Schedule, at: datetime, *, within_days: int = 366
) -> tuple[datetime, OpenState] | None:
    """When schedule ``name`` next opens (if closed at ``at``) or closes (if open), and the
    state it changes to; ``None`` when that does not happen within ``within_days`` days
    (always open, or an emergency override without an expiry)."""
    now = schedule_state(name, schedule, at).open
    for moment in _boundaries(schedule, at, within_days):
        state = schedule_state(name, schedule, moment)
        if state.open != now:
            return moment, state
    return None
