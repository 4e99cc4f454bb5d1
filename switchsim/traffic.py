"""Scripted callers for the simulated switch, so a controller can be watched handling calls.

`run_traffic` places one scripted call every ``interval_s`` seconds on a `FakeSwitch`, presses
its keys at the scripted times, hangs it up, and hands each finished call's record to a
callback; `describe_call` turns a record into one readable line, `prompts_heard` into the
prompts the caller heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from dialplan.transfer_plan import TRANSFER_CONTEXT
from ivr.call.media import prompt_heard
from routing_rules.decision import PromptRef
from switchsim.playbacks import DEFAULT_LANGUAGE
from switchsim.records import ChannelRecord
from switchsim.switch import FakeSwitch

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ScriptedCall:
    """One caller: who calls which number, what they press when, and when they give up.

    ``keys`` are ``(seconds after the call reached the switch, digits)`` pairs.
    """

    calling: str
    dialled: str = "311"
    keys: tuple[tuple[float, str], ...] = ()
    hangup_after_s: float = 45.0
    location: tuple[float, float] | None = None


def mixed_calls(
    npa_nxx_codes: Sequence[str], *, dialled: Sequence[str] = ("311",)
) -> list[ScriptedCall]:
    """A varied set of demo callers from the given NPA-NXX codes (``"905623"``).

    Callers take turns: one listens without pressing anything, one skips the greeting and
    picks menu option 2, one presses 0 for an agent, one withholds their number, one hangs up
    early. Numbers are NPA-NXX + ``0123``-style line numbers.
    """
    if not npa_nxx_codes:
        raise ValueError("give at least one NPA-NXX code")
    behaviours: list[tuple[tuple[tuple[float, str], ...], float, bool]] = [
        ((), 40.0, False),
        (((1.0, "1"), (4.0, "2")), 40.0, False),
        (((1.0, "0"),), 40.0, False),
        (((1.0, "1"), (4.0, "2")), 40.0, True),
        ((), 2.0, False),
    ]
    calls = []
    for n, code in enumerate(npa_nxx_codes):
        keys, hangup_after_s, anonymous = behaviours[n % len(behaviours)]
        calls.append(
            ScriptedCall(
                calling="anonymous" if anonymous else f"{code}{n % 10000:04d}",
                dialled=dialled[n % len(dialled)],
                keys=keys,
                hangup_after_s=hangup_after_s,
            )
        )
    return calls


async def play_call(
    switch: FakeSwitch, call: ScriptedCall, *, app: str = "ivr311"
) -> ChannelRecord:
    """Place one scripted call and follow its script until it ends; returns its record.

    The caller hangs up at ``hangup_after_s`` unless the call ended before (hung up by the
    controller or handed back to the dialplan's fallback, which then hangs up when the caller
    does). A caller whose transfer the dialplan carries out goes on with its script.
    """
    channel_id = switch.place_call(call.dialled, call.calling, app=app, location=call.location)
    record = switch.record(channel_id)
    loop = asyncio.get_running_loop()
    started = loop.time()

    def finished() -> bool:
        handed_back = record.continued_to is not None and record.continued_to[0] != TRANSFER_CONTEXT
        return record.destroyed or handed_back or record.stasis_failed

    for at_s, digits in sorted(call.keys):
        try:
            await switch.wait_for(finished, timeout_s=max(0.0, started + at_s - loop.time()))
        except TimeoutError:
            if channel_id in switch.channels:
                switch.press(channel_id, digits)
            continue
        break
    with contextlib.suppress(TimeoutError):
        await switch.wait_for(
            finished, timeout_s=max(0.0, started + call.hangup_after_s - loop.time())
        )
    if channel_id in switch.channels and not record.destroyed:
        switch.hangup_caller(channel_id)
    return record


async def run_traffic(
    switch: FakeSwitch,
    calls: Sequence[ScriptedCall],
    *,
    interval_s: float = 5.0,
    app: str = "ivr311",
    on_finished: Callable[[ChannelRecord], None] | None = None,
    repeat: bool = True,
) -> None:
    """Place ``calls`` one every ``interval_s`` seconds (cycling forever when ``repeat``)."""
    if not calls:
        raise ValueError("give at least one scripted call")
    running: set[asyncio.Task[None]] = set()

    async def one(call: ScriptedCall) -> None:
        record = await play_call(switch, call, app=app)
        if on_finished is not None:
            on_finished(record)

    source = itertools.cycle(calls) if repeat else iter(calls)
    try:
        for call in source:
            task = asyncio.create_task(one(call))
            running.add(task)
            task.add_done_callback(running.discard)
            await asyncio.sleep(interval_s)
        await asyncio.gather(*running)
    finally:
        for task in running:
            task.cancel()


def describe_call(switch: FakeSwitch, record: ChannelRecord) -> str:
    """One line: who called, what they heard and pressed, whom they reached, how it ended.

    The calling number shows only its NPA-NXX, as everywhere ivr311 prints or logs one.
    """
    parts = [f"{_masked(record.calling)} -> {record.dialled}"]
    if record.stasis_failed:
        parts.append("controller not connected: dialplan fallback")
    if record.answered:
        parts.append("answered")
    prompts = [prompt.id for prompt in prompts_heard(record)]
    if prompts:
        parts.append("heard " + " ".join(prompts))
    if record.dtmf:
        parts.append(f"pressed {record.dtmf}")
    if record.moh:
        parts.append("held with music")
    for other_id in record.bridged_with:
        other = switch.records.get(other_id)
        parts.append(f"bridged with {other.endpoint if other else other_id}")
    legs = [r for r in switch.records.values() if r.originator == record.channel_id]
    failed = [f"{leg.endpoint} (cause {leg.cause})" for leg in legs if not leg.answered]
    if failed:
        parts.append("no answer from " + ", ".join(failed))
    if record.continued_to is not None:
        parts.append("continued to {},{},{}".format(*record.continued_to))
    if record.hung_up_by is not None:
        parts.append(f"hung up by {record.hung_up_by}")
    return "; ".join(parts)


def prompts_heard(record: ChannelRecord) -> list[PromptRef]:
    """The prompts a channel heard (its playbacks that started), in order, each in the
    language it was heard in."""
    return [
        prompt_heard(uri, play.lang or DEFAULT_LANGUAGE)
        for play in record.plays
        if play.started
        for uri in play.media
    ]


def _masked(calling: str) -> str:
    digits = "".join(c for c in calling if c.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return calling if calling and not any(c.isdigit() for c in calling) else "withheld"
    return f"{digits[:6]}-xxxx"
