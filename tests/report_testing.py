"""Seeded call records and an independent count of the figures a report must show.

`random_calls` makes stored calls with a known mix; `expected_document` counts them one by one
in plain Python (no SQL, nothing shared with the report's code but the JSON layout), the way a
clerk would tally the calls by hand.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routing_rules.storage.call_records import StoredAttempt, StoredCall

ZONE = ZoneInfo("America/Toronto")
MENUS = {
    "exchange:oshawa": ("oshawa", "clarington", "whitby"),
    "exchange:port-perry": ("scugog", "kawartha-lakes"),
}
DESTINATIONS = ("durham-agents", "oshawa-311", "clarington-311", "whitby-311", "after-hours")
RESULTS = ("answered", "busy", "no_answer", "rejected", "not_accepted", "failed", "caller_hangup")
STAGES = (
    *("answering", "greeting", "menu", "hold", "ringing", "whisper", "awaiting_accept"),
    "status",
)
STATUS_RESULTS = (
    *("found", "not_found", "slow", "down", "bad_answer", "no_number", "too_long"),
    "no_choice",
)


def random_calls(seed: int, count: int, first: date, days: int) -> list[StoredCall]:
    rng = random.Random(seed)
    calls = []
    for n in range(count):
        local = datetime.combine(first, datetime.min.time(), ZONE) + timedelta(
            seconds=rng.randrange(days * 86_400)
        )
        local = local.astimezone(ZONE)
        menu = rng.choice([None, None, *MENUS])
        evidence = rng.choice(["location", "exchange", "caller_choice", "default", None])
        municipality = rng.choice([None, *MENUS[menu]]) if menu else rng.choice([None, "ajax"])
        attempts = tuple(
            StoredAttempt(rng.choice(DESTINATIONS), rng.choice(RESULTS), rng.random() * 20)
            for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3]))
        )
        reached = any(a.result == "answered" for a in attempts)
        abandoned = rng.choice([None, None, *STAGES]) if not reached else None
        calls.append(
            StoredCall(
                call_id=f"call-{n}",
                started_at=local.astimezone(UTC),
                local_date=local.date(),
                local_hour=local.hour,
                local_weekday=local.weekday(),
                dialled="311",
                number_kind=rng.choice(["311", "311", "ten-digit", "toll-free", None]),
                caller_npa_nxx="905555",
                caller_hash="0123456789abcdef",
                caller_failure=None,
                language=rng.choice(["en", "en", "fr"]),
                greeting_skipped=rng.random() < 0.4,
                zero_out=rng.choice([None, None, None, "greeting", "menu"]),
                after_hours=rng.random() < 0.2,
                menu=menu,
                evidence=evidence,
                rule="rules.x",
                route_kind="municipality",
                municipality=municipality,
                destination=attempts[0].destination if attempts else None,
                digits="2",
                outcome=rng.choice(["completed", "caller_hangup", "message", "handed_back:drain"]),
                abandoned_in=abandoned,
                answer_to_person_s=round(rng.random() * 60, 3) if reached else None,
                total_s=100.0,
                bridged_s=50.0 if reached else None,
                rules_version=1,
                rules_hash="0123456789ab",
                attempt_list=attempts,
                status_check=rng.choice([None, None, None, *STATUS_RESULTS]),
            )
        )
    return calls


def _tally(values: list[str | None], known: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(v if v in known else "other" for v in values)
    table = {k: counts[k] for k in known}
    if counts["other"]:
        table["other"] = counts["other"]
    return table


def _period(day: date, by: str) -> str:
    if by == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.isoformat()[:7] if by == "month" else day.isoformat()


def expected_document(
    calls: list[StoredCall], first: date, last: date, by: str, thresholds: tuple[float, ...]
) -> dict[str, Any]:
    """The report's JSON figures for ``calls`` on ``first``..``last``, counted call by call."""
    mine = [c for c in calls if first <= c.local_date <= last]
    periods: dict[str, int] = {}
    day = first
    while day <= last:
        periods.setdefault(_period(day, by), 0)
        day += timedelta(days=1)
    for c in mine:
        periods[_period(c.local_date, by)] += 1
    overlap = []
    for menu in sorted({c.menu for c in mine if c.menu and c.menu.startswith("exchange:")}):
        offered = [c for c in mine if c.menu == menu]
        chose = Counter(
            c.municipality
            for c in offered
            if c.evidence == "caller_choice" and c.municipality is not None
        )
        overlap.append(
            {
                "exchange": menu.removeprefix("exchange:"),
                "offered": len(offered),
                "choices": [
                    {"municipality": m, "calls": n}
                    for m, n in sorted(chose.items(), key=lambda item: (-item[1], item[0]))
                ],
                "no_choice": len(offered) - sum(chose.values()),
            }
        )
    transfers: dict[str, Counter[str]] = {}
    for c in mine:
        for a in c.attempt_list:
            name = "connected" if a.result == "answered" else a.result
            transfers.setdefault(a.destination, Counter())[name] += 1
    results = ("connected", *RESULTS[1:])
    waits = sorted(c.answer_to_person_s for c in mine if c.answer_to_person_s is not None)
    put_through = sum(1 for c in mine if c.attempt_list)

    def rank(p: int) -> float | None:
        return waits[max(1, math.ceil(p * len(waits) / 100)) - 1] if waits else None

    zero_outs = _tally([c.zero_out for c in mine if c.zero_out], ("greeting", "menu"))
    abandoned = _tally([c.abandoned_in for c in mine if c.abandoned_in], STAGES)
    checks = _tally([c.status_check for c in mine if c.status_check], STATUS_RESULTS)
    return {
        "overlap": overlap,
        "range": {"from": first.isoformat(), "to": last.isoformat(), "by": by},
        "calls_offered": {
            "total": len(mine),
            "by_number_kind": _tally(
                [c.number_kind for c in mine], ("311", "ten-digit", "toll-free")
            ),
            "by_period": [{"period": p, "calls": n} for p, n in periods.items()],
            "by_hour": [sum(1 for c in mine if c.local_hour == h) for h in range(24)],
            "by_weekday": [sum(1 for c in mine if c.local_weekday == d) for d in range(7)],
        },
        "after_hours": sum(c.after_hours for c in mine),
        "greeting_skipped": sum(c.greeting_skipped for c in mine),
        "zero_outs": {"total": sum(zero_outs.values()), "by_stage": zero_outs},
        "language": _tally([c.language for c in mine], ("en", "fr")),
        "evidence": _tally(
            [c.evidence or "none" for c in mine],
            ("location", "exchange", "caller_choice", "default", "none"),
        ),
        "outcomes": dict(sorted(Counter(c.outcome for c in mine).items())),
        "transfers": [
            {
                "destination": d,
                "attempts": sum(transfers[d].values()),
                "results": {r: transfers[d][r] for r in results},
            }
            for d in sorted(transfers)
        ],
        "abandoned": {"total": sum(abandoned.values()), "by_stage": abandoned},
        "answer_to_person": {
            "put_through": put_through,
            "reached_person": len(waits),
            "p50_s": rank(50),
            "p90_s": rank(90),
        },
        "service_level": [
            {
                "threshold_s": t,
                "within": sum(1 for w in waits if w <= t),
                "share": (sum(1 for w in waits if w <= t) / put_through) if put_through else None,
            }
            for t in thresholds
        ],
        "status_checks": {
            "total": sum(checks.values()),
            "by_result": checks,
            "contained": sum(1 for c in mine if c.status_check == "found" and not c.attempt_list),
        },
    }
