"""Answers kept for the minute: the FastAGI server decides once per NPA-NXX and minute.

For an AGI request the decision depends on the call only through the number dialled, the
language, the calling number's NPA-NXX (its exchange code: the placement reads nothing else
of the number, ``IVR311_REASON`` shows it as ``905-623-xxxx``, and no variable carries the
number) and the time; the time only through the
schedules (states, and the minute they are stamped with in ``IVR311_REASON``) and the day. So
when every instant at which a schedule of the rule set can change falls on a whole minute
(weekly hours, exceptional periods, an override's expiry; holidays and closures change at
midnight) and the time zones' offsets are whole minutes, two callers of one NPA-NXX in one
minute get the same variables: the first answer is kept for the others. That takes the
decision engine, the geographic lookup and the parsing of the number off the path of all but
the first call of an NPA-NXX in a minute.

Nothing is kept when the rules allow it not (a boundary at 12:00:30), for a number not placed
by its NPA-NXX (withheld, malformed: its reason quotes it), for wrong arguments or a failed
answer. Kept answers belong to one rule snapshot and one minute; at most `MAX_KEPT` are kept.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from geo.calling_number import parse_calling_number
from ivr.agi.script import AgiAnswer, AgiCall, answer, call_from_env
from routing_rules.schedules import one_off_changes
from routing_rules.schema import RuleSet
from routing_rules.snapshot import RuleSnapshot

MAX_KEPT = 4096
"""Answers kept at most (the NPA-NXX codes calling in a minute, times the numbers dialled and
the languages)."""

_MINUTE = timedelta(minutes=1)


def _whole_minute(moment: datetime) -> bool:
    offset = moment.utcoffset() or timedelta()
    return moment.second == 0 and moment.microsecond == 0 and offset % _MINUTE == timedelta()


def changes_on_whole_minutes(rules: RuleSet) -> bool:
    """Every instant at which one of the rule set's schedules can change falls on a whole
    minute (assuming whole-minute zone offsets, see `zones_on_whole_minutes`)."""
    for schedule in rules.schedules.values():
        for period in schedule.weekly:
            for clock in (period.open, period.close):
                if clock.second or clock.microsecond:
                    return False
    return all(
        _whole_minute(moment)
        for schedule in rules.schedules.values()
        for moment in one_off_changes(schedule)
    )


def zones_on_whole_minutes(rules: RuleSet, at: datetime) -> bool:
    """Each schedule's time zone is a whole number of minutes from UTC at ``at``."""
    return all(
        _whole_minute(at.astimezone(ZoneInfo(schedule.timezone)).replace(second=0, microsecond=0))
        for schedule in rules.schedules.values()
    )


_Key = tuple[str, str, str, str, datetime]
"""Number dialled, language, dial endpoint, NPA-NXX, minute."""


class KeptAnswers:
    """`ivr.agi.script.answer`, kept per NPA-NXX and minute where the rules allow it."""

    def __init__(self) -> None:
        self._snapshot: RuleSnapshot | None = None
        self._minute_aligned = False
        self._minute: datetime | None = None
        self._zones_aligned = False
        self._answers: dict[_Key, AgiAnswer] = {}

    def answer(
        self,
        env: Mapping[str, str],
        args: argparse.Namespace,
        rules: Callable[[], RuleSnapshot],
    ) -> AgiAnswer:
        """The answer for the call in ``env`` and the (right) arguments ``args``, kept or
        decided (and then kept when it may be)."""
        try:
            snapshot = rules()
            call = call_from_env(env, args)
            key = self._key(snapshot, call, args.dial_endpoint)
        except Exception:  # no rules yet, a time out of range: answer() says what failed
            return answer(env, args, rules)
        if key is None:
            return answer(env, args, lambda: snapshot, call=call)
        kept = self._answers.get(key)
        if kept is not None:
            return kept
        result = answer(env, args, lambda: snapshot, call=call)
        if result.failure is None:
            if len(self._answers) >= MAX_KEPT:
                self._answers.clear()
            self._answers[key] = result
        return result

    def _key(self, snapshot: RuleSnapshot, call: AgiCall, dial_endpoint: str) -> _Key | None:
        if snapshot is not self._snapshot:
            self._snapshot = snapshot
            self._minute_aligned = changes_on_whole_minutes(snapshot.rules)
            self._minute = None
            self._answers.clear()
        if not self._minute_aligned:
            return None
        code = parse_calling_number(call.calling).npa_nxx
        if code is None:
            return None
        minute = call.at.replace(second=0, microsecond=0)
        if minute != self._minute:
            self._minute = minute
            self._zones_aligned = zones_on_whole_minutes(snapshot.rules, call.at)
            self._answers.clear()
        if not self._zones_aligned:
            return None
        return (call.dialled, call.language, dial_endpoint, code, minute)
