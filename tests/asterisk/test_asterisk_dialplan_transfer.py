"""A real Asterisk carries out a transfer handed over to the dialplan (``ivr311-transfer``) and
leaves its progress on the caller's channel.

The test plays the controller's part: an ARI application named as the controller's takes the
carrier's call in Stasis, saves a hand-made plan in the caller's ``IVR311_STATE`` and continues
the caller at the transfer context. SIPp plays the caller and the contact centres. The marks are
read off the caller's ``ChannelDestroyed`` (``channelvars`` in ari.conf), as the controller does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ari_events_testing import asterisk_events
from asterisk_testing import ACCEPT_KEY, ARI_PASSWORD, AsteriskNode
from sipp_testing import (
    SippParty,
    sipp,
    start_carrier_call,
    start_contact_centre,
    start_contact_centre_hanging_up,
    start_contact_centres,
)
from transfer_plan_testing import course, plan_link, saved_state

from dialplan.options import DialplanOptions
from dialplan.transfer_plan import (
    OUTCOME_VARIABLE,
    TRANSFER_CONTEXT,
    Mark,
    TransferPlan,
    parse_outcome,
)
from ivr.ari import AriClient
from recordings.manifest import sound_name
from routing_rules.policy import dial_string

pytestmark = pytest.mark.asterisk

FIRST_CENTRE = "+19055550111"
SECOND_CENTRE = "+19055550122"
CALLER = "9056230142"
ANNOUNCEMENT = sound_name("digit-2", "en")
WHISPER = sound_name("digit-8", "en")
"""Under a second long: the centres below press their keys after it."""
FINAL_MESSAGE = sound_name("digit-3", "en")
WRONG_KEY = "5"
CALL_DEADLINE_S = 60.0


def plan_state(
    links: Sequence[tuple[str, str]], *, ring_timeout_s: float = 10, accept_timeout_s: float = 10
) -> str:
    """The saved call state holding a plan that dials each (number, accept key) in turn."""
    endpoint = DialplanOptions().dial_endpoint
    plan_links = tuple(
        plan_link(
            dial_string(number, endpoint),
            whisper=WHISPER,
            accept_key=key,
            ring_timeout_s=ring_timeout_s,
        )
        for number, key in links
    )
    return saved_state(TransferPlan(ANNOUNCEMENT, plan_links, FINAL_MESSAGE, accept_timeout_s))


def of_channel(kind: str, channel_id: str) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return bool(event.get("type") == kind and event["channel"]["id"] == channel_id)

    return match


async def hand_over(
    node: AsteriskNode, work: Path, state: str, *, hang_up_when_bridged: bool
) -> str:
    """A carrier call handed over to the transfer context with ``state``; the caller's
    progress as its ``ChannelDestroyed`` carries it. ``hang_up_when_bridged``: the caller
    hangs up once bridged to a centre (else Asterisk ends the call)."""
    app = DialplanOptions().app
    async with (
        asterisk_events(node, app=app) as events,
        AriClient(f"http://127.0.0.1:{node.http_port}", "ivr311", ARI_PASSWORD, app) as ari,
    ):
        caller = start_carrier_call(node, work, calling=CALLER)
        try:
            start = await events.wait_for(lambda e: e.get("type") == "StasisStart", CALL_DEADLINE_S)
            channel_id = start["channel"]["id"]
            await ari.set_variable(channel_id, "IVR311_STATE", state)
            await ari.continue_in_dialplan(channel_id, TRANSFER_CONTEXT, "s")
            if hang_up_when_bridged:
                await events.wait_for(
                    of_channel("ChannelEnteredBridge", channel_id), CALL_DEADLINE_S
                )
                await ari.hangup(channel_id)
            destroyed = await events.wait_for(
                of_channel("ChannelDestroyed", channel_id), CALL_DEADLINE_S
            )
            assert await asyncio.to_thread(caller.wait, 30) == 0, caller.trace()
        finally:
            caller.kill()
    outcome: str = destroyed["channel"].get("channelvars", {}).get(OUTCOME_VARIABLE, "")
    return outcome


def assert_times_are_now(marks: Sequence[Mark], began: float) -> None:
    """Unix seconds, in order, within the test."""
    times = [m.at for m in marks]
    assert times == sorted(times)
    assert began - 1 <= times[0] and times[-1] <= time.time() + 1


def centre_done(centre: SippParty) -> None:
    assert centre.wait(timeout_s=30) == 0, centre.trace()


@pytest.fixture
def sipp_binary() -> str:
    binary = sipp()
    if binary is None:
        pytest.skip("no sipp binary (Debian: sip-tester)")
    return binary


async def test_a_centre_that_presses_the_accept_key_is_bridged_even_after_a_wrong_key(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    began = time.time()
    centre = start_contact_centre(node, tmp_path, steps=[1500, WRONG_KEY, 1000, ACCEPT_KEY])
    try:
        raw = await hand_over(
            node, tmp_path, plan_state([(FIRST_CENTRE, ACCEPT_KEY)]), hang_up_when_bridged=True
        )
        centre_done(centre)
    finally:
        centre.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 a0 w0 k0", raw
    assert_times_are_now(marks, began)
    assert node.errors() == []


async def test_when_the_centre_hangs_up_after_the_conversation_the_caller_is_hung_up_too(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    centre = start_contact_centre_hanging_up(node, tmp_path, [1500, ACCEPT_KEY, 1000])
    try:
        state = plan_state([(FIRST_CENTRE, ACCEPT_KEY), (SECOND_CENTRE, ACCEPT_KEY)])
        raw = await hand_over(node, tmp_path, state, hang_up_when_bridged=False)
        centre_done(centre)
    finally:
        centre.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 a0 w0 k0 e0:ANSWER:16", raw


async def test_a_busy_first_link_goes_on_to_the_second_which_needs_no_key(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    centres = start_contact_centre(node, tmp_path, busy=FIRST_CENTRE)
    try:
        state = plan_state([(FIRST_CENTRE, ACCEPT_KEY), (SECOND_CENTRE, "")])
        raw = await hand_over(node, tmp_path, state, hang_up_when_bridged=True)
        centre_done(centres)
    finally:
        centres.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 e0:BUSY:17 d1 a1 k1", raw


async def test_a_centre_that_never_presses_the_key_is_hung_up_and_the_caller_hears_the_message(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    centre = start_contact_centre(node, tmp_path, steps=[1500, WRONG_KEY])
    try:
        state = plan_state([(FIRST_CENTRE, ACCEPT_KEY)], accept_timeout_s=2)
        raw = await hand_over(node, tmp_path, state, hang_up_when_bridged=False)
        centre_done(centre)  # hung up by Asterisk
    finally:
        centre.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 a0 w0 e0:ANSWER:16 m z", raw


async def test_a_centre_that_hangs_up_during_the_whisper_leaves_the_caller_in_the_call(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    centre = start_contact_centre_hanging_up(node, tmp_path, [300])
    try:
        raw = await hand_over(
            node, tmp_path, plan_state([(FIRST_CENTRE, ACCEPT_KEY)]), hang_up_when_bridged=False
        )
        centre_done(centre)
    finally:
        centre.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 a0 e0:ANSWER:16 m z", raw


async def test_when_every_link_fails_the_caller_hears_the_final_message_to_its_end(
    node: AsteriskNode, sipp_binary: str, tmp_path: Path
) -> None:
    centres = start_contact_centres(node, tmp_path, calls=2, ringing=FIRST_CENTRE)
    try:
        state = plan_state([(FIRST_CENTRE, ACCEPT_KEY), (FIRST_CENTRE, "")], ring_timeout_s=1)
        raw = await hand_over(node, tmp_path, state, hang_up_when_bridged=False)
        centre_done(centres)
    finally:
        centres.kill()
    marks = parse_outcome(raw)
    assert course(marks) == "h d0 e0:NOANSWER d1 e1:NOANSWER m z", raw
