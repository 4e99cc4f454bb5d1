"""The report's figures from the database's grouped answers (pure: no I/O, no clock).

Every figure is a count of calls (or of transfer attempts), so a reader can check it against
any other count of the same calls; shares are left to the renderers, except the service level.

* Percentiles are nearest-rank: p50 is the smallest time that at least half the calls that
  reached a person took no longer than.
* Service level at T seconds: of the calls put through to a destination (at least one transfer
  attempt, abandoned ones included), the share that reached a person within T seconds of the
  answer.
* Status checks: calls per way the caller's service-request status check ended; contained
  are those whose request was found and that made no transfer attempt (answered without an
  agent).
* The overlap table: for each shared exchange whose menu was offered, how many callers chose
  each municipality; ``no_choice`` are the others offered that menu (0 for an agent, no key,
  hung up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ivr.reports.period import ReportRange, period_of
from ivr.reports.query import KNOWN, MENU_PREFIX, UNFORESEEN, QueryResults

TRANSFER_RESULTS = (
    "connected",
    "busy",
    "no_answer",
    "rejected",
    "not_accepted",
    "failed",
    "caller_hangup",
)
"""Results of a transfer attempt; ``connected`` is the stored ``answered`` (bridged)."""
STORED_RESULT = {"connected": "answered"}
DEFAULT_THRESHOLDS_S = (20.0, 30.0)
OTHER = "other"
"""A value no list above foresaw (a non-host number, a newer stage): counted, never lost."""
NONE = "none"
"""No evidence: no route was reached (the caller left first)."""


@dataclass(frozen=True)
class Choice:
    municipality: str
    calls: int


@dataclass(frozen=True)
class OverlapRow:
    exchange: str
    offered: int
    """Calls offered this exchange's menu."""
    choices: tuple[Choice, ...]
    """Most chosen first."""
    no_choice: int


@dataclass(frozen=True)
class TransferRow:
    destination: str
    attempts: int
    results: dict[str, int]
    """Every `TRANSFER_RESULTS` key (0 when none), and any result not foreseen."""


@dataclass(frozen=True)
class ServiceLevel:
    threshold_s: float
    within: int
    share: float | None
    """``within`` over the calls put through; None when none was."""


@dataclass(frozen=True)
class Report:
    range: ReportRange
    overlap: tuple[OverlapRow, ...]
    total: int
    by_number_kind: dict[str, int]
    by_period: tuple[tuple[str, int], ...]
    by_hour: tuple[int, ...]
    by_weekday: tuple[int, ...]
    """Monday first."""
    after_hours: int
    greeting_skipped: int
    zero_outs: dict[str, int]
    language: dict[str, int]
    evidence: dict[str, int]
    outcomes: dict[str, int]
    transfers: tuple[TransferRow, ...]
    abandoned: dict[str, int]
    put_through: int
    reached_person: int
    p50_s: float | None
    p90_s: float | None
    service_level: tuple[ServiceLevel, ...]
    status_checks: dict[str, int]
    status_contained: int

    @property
    def status_checks_total(self) -> int:
        return sum(self.status_checks.values())

    @property
    def zero_outs_total(self) -> int:
        return sum(self.zero_outs.values())

    @property
    def abandoned_total(self) -> int:
        return sum(self.abandoned.values())


def compute(results: QueryResults, period: ReportRange) -> Report:
    """The report's figures from the database's answers; its service levels are those at
    the thresholds the answers were read for (`QueryResults.waits`)."""
    per_period: Counter[str] = Counter()
    by_hour, by_weekday = [0] * 24, [0] * 7
    for row in results.hours:
        per_period[period_of(row.local_date, period.by)] += row.calls
        by_hour[row.local_hour] += row.calls
        by_weekday[row.local_weekday] += row.calls
    waits = results.waits
    put_through = results.flags["put_through"]
    tallies = results.tallies
    return Report(
        range=period,
        overlap=_overlap(results),
        total=sum(row.calls for row in results.hours),
        by_number_kind=_tally(tallies["number_kind"], KNOWN["number_kind"]),
        by_period=tuple((name, per_period[name]) for name in period.periods()),
        by_hour=tuple(by_hour),
        by_weekday=tuple(by_weekday),
        after_hours=results.flags["after_hours"],
        greeting_skipped=results.flags["greeting_skipped"],
        zero_outs=_tally(tallies["zero_out"], KNOWN["zero_out"], counted_none=False),
        language=_tally(tallies["language"], KNOWN["language"]),
        evidence=_tally(tallies["evidence"], KNOWN["evidence"], none_as=NONE),
        outcomes={
            k: n for k, n in sorted(tallies["outcome"].items(), key=str) if k is not None and n
        },
        transfers=_transfers(results),
        abandoned=_tally(tallies["abandoned_in"], KNOWN["abandoned_in"], counted_none=False),
        put_through=put_through,
        reached_person=waits.reached,
        p50_s=waits.p50_s,
        p90_s=waits.p90_s,
        service_level=tuple(
            ServiceLevel(t, within, within / put_through if put_through else None)
            for t, within in waits.within.items()
        ),
        status_checks=_tally(tallies["status_check"], KNOWN["status_check"], counted_none=False),
        status_contained=results.flags["status_contained"],
    )


def _tally(
    counts: dict[str | None, int],
    known: Sequence[str],
    *,
    none_as: str | None = None,
    counted_none: bool = True,
) -> dict[str, int]:
    """``known`` keys first (0 when absent), then NULL as ``none_as`` when named; `OTHER`
    (only when non-zero) for unforeseen values, and NULLs when they count but are not named."""
    table = {key: counts.get(key, 0) for key in known}
    nulls = counts.get(None, 0)
    other = counts.get(UNFORESEEN, 0)
    if none_as is not None:
        table[none_as] = nulls
    elif counted_none:
        other += nulls
    if other:
        table[OTHER] = other
    return table


def _overlap(results: QueryResults) -> tuple[OverlapRow, ...]:
    offered: Counter[str] = Counter()
    chosen: dict[str, Counter[str]] = {}
    for row in results.menus:
        exchange = row.menu.removeprefix(MENU_PREFIX)
        offered[exchange] += row.calls
        if row.chosen and row.municipality is not None:
            chosen.setdefault(exchange, Counter())[row.municipality] += row.calls
    rows = []
    for exchange in sorted(offered):
        picks = chosen.get(exchange, Counter())
        choices = tuple(
            Choice(m, n) for m, n in sorted(picks.items(), key=lambda item: (-item[1], item[0]))
        )
        rows.append(
            OverlapRow(
                exchange, offered[exchange], choices, offered[exchange] - sum(picks.values())
            )
        )
    return tuple(rows)


def _transfers(results: QueryResults) -> tuple[TransferRow, ...]:
    stored_name = {stored: name for name, stored in STORED_RESULT.items()}
    per: dict[str, Counter[str]] = {}
    for row in results.attempts:
        per.setdefault(row.destination, Counter())[stored_name.get(row.result, row.result)] += (
            row.attempts
        )
    rows = []
    for destination in sorted(per):
        counts = per[destination]
        results_table = {key: counts[key] for key in TRANSFER_RESULTS}
        results_table.update({k: n for k, n in sorted(counts.items()) if k not in results_table})
        rows.append(TransferRow(destination, sum(counts.values()), results_table))
    return tuple(rows)
