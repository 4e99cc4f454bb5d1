"""``ivr311 demo``: the tour's stops are chosen from the rule set and print their traces."""

from __future__ import annotations

import io
from dataclasses import replace

from ivr_testing import fast_settings

from routing_rules.snapshot import RuleSnapshot, load_snapshot
from switchsim.demo import Stop, plan_tour, run_tour


def test_tour_covers_every_path() -> None:
    titles = " | ".join(stop.title for stop in plan_tour(load_snapshot("durham")))
    for words in (
        "inside one municipality",
        "shared exchange",
        "presses 0",
        "after hours",
        "does not answer",
    ):
        assert words in titles


async def test_fallback_stop_prints_its_trace() -> None:
    def last_stop(snapshot: RuleSnapshot) -> list[Stop]:
        stop = plan_tour(snapshot)[-1]
        return [replace(stop, call=replace(stop.call, hangup_after_s=5.0))]

    out = io.StringIO()
    assert await run_tour(fast_settings(), "durham", out=out, stops=last_stop, playback_s=0.15) == 0
    text = out.getvalue()
    assert "1. " in text and "does not answer" in text
    assert "no_answer" in text and "outcome: completed" in text
    assert "- transfer: chain" in text


async def test_a_tour_caller_handed_to_the_dialplan_s_transfer_stays_on_until_connected() -> None:
    def inside_stop(snapshot: RuleSnapshot) -> list[Stop]:
        stop = next(s for s in plan_tour(snapshot) if "inside one municipality" in s.title)
        return [replace(stop, call=replace(stop.call, hangup_after_s=5.0))]

    out = io.StringIO()
    settings = fast_settings(transfers="dialplan")
    assert await run_tour(settings, "durham", out=out, stops=inside_stop, playback_s=0.15) == 0
    text = out.getvalue()
    assert "continued to ivr311-transfer" in text
    assert "outcome: completed" in text
