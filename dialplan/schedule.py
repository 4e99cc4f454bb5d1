"""A rule-set schedule as a dialplan subroutine that sets ``IVR311_OPEN`` (and ``IVR311_OVERRIDE``).

The checks run in the decision engine's order, each in the schedule's own time zone:
emergency override, exceptional periods (absolute instants, compared with ``${EPOCH}``),
statutory holidays and extra closures (dates looked up in a context of closed days, expanded
for a fixed number of years when the dialplan is rendered), then the weekly hours with
``GotoIfTime`` and the time zone argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import holidays

from dialplan.names import extension_name, note
from routing_rules.schema import Schedule

SCHEDULE_CONTEXT = "ivr311-schedule"
CLOSED_DAYS_PREFIX = "ivr311-closed-"


@dataclass(frozen=True, slots=True)
class ClosedDay:
    day: date
    name: str


def _epoch(moment: datetime, zone: ZoneInfo) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return int(aware.timestamp())


def closed_days(schedule: Schedule, first_year: int, years: int) -> list[ClosedDay]:
    """Statutory holidays of ``years`` years from ``first_year``, and the named extra closures."""
    days: dict[date, str] = {}
    if schedule.holidays is not None:
        calendar = holidays.country_holidays(
            schedule.holidays.country,
            subdiv=schedule.holidays.subdivision,
            years=range(first_year, first_year + years),
        )
        for day, name in sorted(calendar.items()):
            days[day] = str(name)
    for closure in schedule.extra_closures:
        days.setdefault(closure.date, closure.name)
    return [ClosedDay(d, days[d]) for d in sorted(days)]


def closed_days_context(name: str) -> str:
    return CLOSED_DAYS_PREFIX + extension_name(name)


def _weekly_time_range(open_minute: int, close_minute: int) -> str:
    """``GotoIfTime`` ranges include their last minute; the rules' closing time is exclusive."""
    last = close_minute - 1
    return f"{open_minute // 60:02d}:{open_minute % 60:02d}-{last // 60:02d}:{last % 60:02d}"


def schedule_lines(name: str, schedule: Schedule, now: datetime) -> Iterator[str]:
    """The ``ivr311-schedule`` extension of one schedule (entered with Gosub)."""
    zone = ZoneInfo(schedule.timezone)
    tz = schedule.timezone
    exten = extension_name(name)
    yield f"; {note(name)}: {tz}"
    yield f"exten => {exten},1,Set(IVR311_OPEN=0)"
    yield " same => n,Set(IVR311_OVERRIDE=0)"
    override = schedule.emergency_override
    if override is not None and override.active:
        if override.expires is None:
            yield f" same => n,Goto(override)   ; emergency override: {note(override.reason)}"
        elif _epoch(override.expires, zone) > now.timestamp():
            until = _epoch(override.expires, zone)
            yield (
                f" same => n,GotoIf($[${{EPOCH}} < {until}]?override)"
                f"   ; emergency override until {override.expires.isoformat()}: "
                f"{note(override.reason)}"
            )
    if schedule.always_open:
        yield " same => n,Goto(open)   ; open 24/7"
    else:
        for exception in schedule.exceptions:
            start, end = _epoch(exception.start, zone), _epoch(exception.end, zone)
            if end <= now.timestamp():
                continue
            verdict = "open" if exception.open else "closed"
            yield (
                f" same => n,GotoIf($[${{EPOCH}} >= {start} & ${{EPOCH}} < {end}]?{verdict})"
                f"   ; {note(exception.name)} ({exception.start.isoformat()} to "
                f"{exception.end.isoformat()})"
            )
        if schedule.holidays is not None or schedule.extra_closures:
            yield f" same => n,Set(LOCAL(today)=${{STRFTIME(${{EPOCH}},{tz},%Y%m%d)}})"
            yield (
                f" same => n,GotoIf(${{DIALPLAN_EXISTS({closed_days_context(name)},"
                f"${{LOCAL(today)}},1)}}?closed)"
            )
        for period in schedule.weekly:
            opens = period.open.hour * 60 + period.open.minute
            closes = period.close.hour * 60 + period.close.minute
            days = "&".join(period.days)
            yield (
                f" same => n,GotoIfTime({_weekly_time_range(opens, closes)},{days},*,*,{tz}?open)"
            )
    yield " same => n(closed),Return()"
    yield " same => n(open),Set(IVR311_OPEN=1)"
    yield " same => n,Return()"
    yield " same => n(override),Set(IVR311_OVERRIDE=1)"
    yield " same => n,Return()"


def closed_days_lines(name: str, days: list[ClosedDay]) -> Iterator[str]:
    """A context of one extension per closed day (``YYYYMMDD``), for DIALPLAN_EXISTS."""
    yield f"[{closed_days_context(name)}]"
    yield f"; days {note(name)} is closed: statutory holidays and extra closures"
    for closed in days:
        yield f"exten => {closed.day:%Y%m%d},1,NoOp({note(closed.name)})"
