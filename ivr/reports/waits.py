"""Exact times from answer to a person (p50, p90, service levels) without reading them all.

The report's summary counts the calls that reached a person per whole second of that time.
A nearest-rank percentile is the k-th smallest time: the counts show which second holds it,
and only that second's times are read and sorted. A service level at T seconds counts the
times up to T: every whole second below ``floor(T)`` from the counts, the rest from the times
of second ``floor(T)`` up to T. So a year's report reads a few thousand times, not a million.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

SecondTimes = Callable[[int], Sequence[float]]
"""The times (any order) of the calls in the report's range whose time is in ``[s, s + 1)``."""


@dataclass(frozen=True)
class Waits:
    reached: int
    """Calls that reached a person."""
    p50_s: float | None
    p90_s: float | None
    within: dict[float, int]
    """Per service-level threshold: the calls that reached a person within it."""


def waits(
    per_second: Mapping[int, int], times_in: SecondTimes, thresholds_s: Sequence[float]
) -> Waits:
    """The figures from the counts ``per_second`` (whole second → calls) and ``times_in``."""
    seconds = sorted(s for s, n in per_second.items() if n)
    reached = sum(per_second[s] for s in seconds)
    read: dict[int, list[float]] = {}

    def second(s: int) -> list[float]:
        if s not in read:
            read[s] = sorted(times_in(s))
            if len(read[s]) != per_second.get(s, 0):
                raise RuntimeError(
                    f"the summary counts {per_second.get(s, 0)} times in second "
                    f"{s}, the call records hold {len(read[s])}"
                )
        return read[s]

    def nearest_rank(percent: float) -> float | None:
        if not reached:
            return None
        rank = max(1, math.ceil(percent / 100 * reached))
        below = 0
        for s in seconds:
            if below + per_second[s] >= rank:
                return second(s)[rank - below - 1]
            below += per_second[s]
        raise AssertionError("a rank beyond the counts")  # rank <= reached

    def within(threshold: float) -> int:
        whole = math.floor(threshold)
        below = sum(per_second[s] for s in seconds if s < whole)
        if per_second.get(whole):
            below += sum(1 for t in second(whole) if t <= threshold)
        return below

    return Waits(
        reached=reached,
        p50_s=nearest_rank(50),
        p90_s=nearest_rank(90),
        within={threshold: within(threshold) for threshold in thresholds_s},
    )
