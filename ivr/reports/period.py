"""What a report is asked for: a range of local dates, how it is cut into periods (day, week
or month), and the service level's thresholds.

Dates are the host's local dates, the ``local_date`` column of the call records; both ends are
included. Weeks are ISO weeks (Monday first) named by their Monday, months ``YYYY-MM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = ("day", "week", "month")
MAX_DAYS = 3660
"""The longest range a report covers (ten years): a bound on the periods it lists."""


class ReportRangeError(ValueError):
    """A range a report cannot cover; ``field`` names the option or parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class ReportRange:
    start: date
    end: date
    by: str = "day"

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, by: str | None, *, names: tuple[str, str, str]
    ) -> ReportRange:
        """The range of ``start``..``end`` (``YYYY-MM-DD``) cut ``by`` period; ``names`` are
        what the caller calls the three (``--from``, ``--to``, ``--by``) in an error."""
        first, last = parse_date(start, names[0]), parse_date(end, names[1])
        if last < first:
            raise ReportRangeError(names[1], f"{last} is before {names[0]} {first}")
        if (last - first).days >= MAX_DAYS:
            raise ReportRangeError(names[1], f"a report covers at most {MAX_DAYS} days")
        period = by or "day"
        if period not in PERIODS:
            raise ReportRangeError(names[2], f"{period!r}: give one of {', '.join(PERIODS)}")
        return cls(first, last, period)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def periods(self) -> list[str]:
        """Every period the range touches, in order (those without calls too)."""
        return list(dict.fromkeys(period_of(day, self.by) for day in self.days()))


def parse_date(value: str | None, field: str) -> date:
    if not value:
        raise ReportRangeError(field, "required (a date, YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ReportRangeError(field, f"{value!r} is not a date (YYYY-MM-DD)") from exc


def period_of(day: date, by: str) -> str:
    """The name of the period ``day`` falls in."""
    if by == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def parse_thresholds(text: str, field: str) -> tuple[float, ...]:
    """``20,30`` → (20.0, 30.0): seconds, each above 0 and below a day."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError as exc:
        raise ReportRangeError(field, f"{text!r}: give seconds like 20,30") from exc
    if not values or any(not 0 < v < 86_400 for v in values):
        raise ReportRangeError(field, f"{text!r}: each above 0 and below 86400 s")
    return values
