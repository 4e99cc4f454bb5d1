"""A transfer handed to the dialplan on the simulated switch: the application subscribes to the
caller, continues it to the transfer context, and reads the course of the transfer off the
caller's ``ChannelDestroyed``, as it would on Asterisk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest
from ari_testing import APP, PASSWORD, USER, EventCollector
from transfer_plan_testing import course, plan_link, saved_state

from dialplan.names import STATE_VARIABLE
from dialplan.transfer_plan import (
    OUTCOME_VARIABLE,
    TRANSFER_CONTEXT,
    PlanLink,
    TransferPlan,
    parse_outcome,
)
from ivr.ari import AriClient
from ivr.ari.client import basic_auth_header
from ivr.ari.events import (
    ChannelDestroyed,
    ChannelHangupRequest,
    Dial,
    StasisEnd,
    UnknownEvent,
)
from recordings.manifest import sound_name
from routing_rules.decision import PromptRef
from switchsim import FakeAri, Outcome
from switchsim.traffic import prompts_heard

CENTRE = "PJSIP/+19055550101@contact-centres"
BACKUP = "PJSIP/+19055550202@contact-centres"
SHOWN = "+13115550000"
WHISPER = sound_name("whisper-roads", "en")
LONG_WHISPER = sound_name("whisper-long", "en")
ANNOUNCEMENT = sound_name("transferring", "fr_CA")
FINAL = sound_name("call-back-later", "fr_CA")


def link(endpoint: str, *, key: str = "1", whisper: str = WHISPER, ring_s: float = 1) -> PlanLink:
    return plan_link(
        endpoint,
        whisper=whisper,
        accept_key=key,
        ring_timeout_s=ring_s,
        moh_class="default",
        caller_id=SHOWN,
    )


def plan(*links: PlanLink, accept_timeout_s: float = 0.05) -> TransferPlan:
    return TransferPlan(ANNOUNCEMENT, links, FINAL, accept_timeout_s)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        headers={"Authorization": basic_auth_header(USER, PASSWORD)}
    ) as session:
        yield session


async def subscription(
    http: aiohttp.ClientSession,
    fake: FakeAri,
    method: str,
    sources: Sequence[str],
    app: str = APP,
) -> tuple[int, dict[str, object]]:
    async with http.request(
        method,
        f"{fake.url}/ari/applications/{app}/subscription",
        params=[("eventSource", s) for s in sources],
    ) as resp:
        return resp.status, await resp.json()


async def hand_over(
    fake: FakeAri, client: AriClient, http: aiohttp.ClientSession, transfer: TransferPlan
) -> str:
    """A caller whose controller hands its transfer to the dialplan: state, subscription,
    continue."""
    caller = fake.switch.place_call(calling="9055550123")
    await client.set_variable(caller, STATE_VARIABLE, saved_state(transfer))
    status, _ = await subscription(http, fake, "POST", [f"channel:{caller}"])
    assert status == 200
    await client.continue_in_dialplan(caller, TRANSFER_CONTEXT, "s")
    return caller


async def destroyed(events: EventCollector, channel_id: str) -> ChannelDestroyed:
    """The caller's ChannelDestroyed, as the application received it."""

    def gone(received: object) -> bool:
        return bool(_destroyed(events, channel_id))

    await events.wait_for(gone)
    return _destroyed(events, channel_id)[0]


def _destroyed(events: EventCollector, channel_id: str) -> list[ChannelDestroyed]:
    return [
        e for e in events.events if isinstance(e, ChannelDestroyed) and e.channel.id == channel_id
    ]


def about(events: EventCollector, channel_id: str) -> list[str]:
    """The types of the lifecycle events the application received about a channel."""
    return [
        e.type
        for e in events.events
        if isinstance(e, StasisEnd | ChannelHangupRequest | ChannelDestroyed)
        and e.channel.id == channel_id
    ]


def course_of(event: ChannelDestroyed) -> str:
    """The `course` of the marks the caller's ChannelDestroyed carries."""
    assert event.channel.channelvars is not None
    return course(parse_outcome(event.channel.channelvars[OUTCOME_VARIABLE]))


async def until_marked(fake: FakeAri, caller: str, kind: str) -> None:
    record = fake.switch.record(caller)
    await fake.switch.wait_for(
        lambda: any(line.startswith(f"outcome {kind}:") for line in record.history),
        channel_id=caller,
    )


# --- subscriptions -------------------------------------------------------------------------------


async def test_a_subscribed_caller_sends_its_events_after_it_leaves_the_application(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    subscribed = fake.switch.place_call()
    unsubscribed = fake.switch.place_call()
    status, app = await subscription(http, fake, "POST", [f"channel:{subscribed}"])
    assert status == 200 and app["name"] == APP and subscribed in str(app["channel_ids"])

    for caller in (subscribed, unsubscribed):
        await client.continue_in_dialplan(caller, "default", "s")
    state = await client.application_state()
    assert subscribed in state.channel_ids and unsubscribed not in state.channel_ids
    fake.switch.hangup_caller(subscribed)
    fake.switch.hangup_caller(unsubscribed)

    gone = await destroyed(events, subscribed)
    assert gone.cause == 16
    assert about(events, subscribed) == ["StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"]
    assert about(events, unsubscribed) == ["StasisEnd"], "unsubscribed: nothing after StasisEnd"


async def test_subscription_errors_are_asterisks(
    fake: FakeAri, client: AriClient, http: aiohttp.ClientSession
) -> None:
    caller = fake.switch.place_call()
    assert await subscription(http, fake, "POST", []) == (
        400,
        {"message": "Missing parameter eventSource"},
    )
    assert (await subscription(http, fake, "POST", [f"channel:{caller}"], app="other"))[0] == 404
    assert await subscription(http, fake, "POST", [f"room:{caller}"]) == (
        400,
        {"message": "Invalid event source URI scheme"},
    )
    assert await subscription(http, fake, "POST", ["channel:nobody"]) == (
        422,
        {"message": "Event source does not exist"},
    )
    assert await subscription(http, fake, "DELETE", [f"channel:{caller}"]) == (
        422,
        {"message": "Event source was not subscribed to"},
    )
    assert (await subscription(http, fake, "POST", [f"channel:{caller}"]))[0] == 200
    status, app = await subscription(http, fake, "DELETE", [f"channel:{caller}"])
    assert status == 200 and caller in str(app["channel_ids"]), "still in the Stasis()"
    await client.continue_in_dialplan(caller, "default", "s")
    assert caller not in (await client.application_state()).channel_ids


async def test_a_subscription_outlives_the_applications_socket(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    caller = fake.switch.place_call()
    await subscription(http, fake, "POST", [f"channel:{caller}"])
    await client.continue_in_dialplan(caller, "default", "s")
    await fake.stop_listening()
    assert caller in fake.switch.application(APP)["channel_ids"]
    mark = fake.switch.mark()
    fake.switch.hangup_caller(caller)
    dropped = [e for e in fake.switch.events[mark:] if e.payload["type"] == "ChannelDestroyed"]
    assert [e.delivered for e in dropped] == [False], "no socket: the event is dropped"
    await fake.listen()


async def test_every_channel_snapshot_carries_the_configured_variables(
    fake: FakeAri, client: AriClient, events: EventCollector
) -> None:
    caller = fake.switch.place_call(location=(43.9, -78.85))
    start = await fake.switch.wait_event("StasisStart", channel_id=caller)
    assert start["channel"]["channelvars"] == {
        "IVR311_LOCATION": "43.9,-78.85",
        OUTCOME_VARIABLE: "",
    }
    assert (await client.get_channel(caller)).channelvars == start["channel"]["channelvars"]


# --- the transfer context ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ended", "leg_cause"),
    [
        ("busy", "e0:BUSY:17", 17),
        ("no_answer", "e0:NOANSWER", 19),
        ("rejected", "e0:CHANUNAVAIL:21", 21),
    ],
)
async def test_a_link_that_fails_moves_on_and_the_caller_hears_the_final_message(
    fake: FakeAri,
    client: AriClient,
    events: EventCollector,
    http: aiohttp.ClientSession,
    kind: str,
    ended: str,
    leg_cause: int,
) -> None:
    """The caller's HANGUPCAUSE after a link that rang out is whatever it was: the context
    writes none for NOANSWER."""
    fake.switch.script_endpoint(CENTRE, Outcome.from_json({"kind": kind, "after_s": 0.01}))
    fake.switch.script_endpoint(BACKUP, Outcome("busy"))
    caller = await hand_over(fake, client, http, plan(link(CENTRE), link(BACKUP)))

    gone = await destroyed(events, caller)
    assert course_of(gone) == f"h d0 {ended} d1 e1:BUSY:17 m z"
    record = fake.switch.record(caller)
    assert prompts_heard(record) == [
        PromptRef("transferring", "fr_CA"),
        PromptRef("call-back-later", "fr_CA"),
    ]
    assert record.hung_up_by == "dialplan" and not record.bridged_with
    legs = fake.switch.outbound_records()
    assert [(leg.endpoint, leg.answered, leg.cause) for leg in legs] == [
        (CENTRE, False, leg_cause),
        (BACKUP, False, 17),
    ]
    assert not fake.switch.find_events("ChannelCreated", channel_id=legs[0].channel_id)


async def test_a_link_ringing_past_its_timeout_is_no_answer(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("ring"))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, ring_s=1)))
    await until_marked(fake, caller, "d")
    assert fake.switch.record(caller).moh, "the caller hears music while the link rings"

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 e0:NOANSWER m z"
    assert fake.switch.outbound_records()[0].hung_up_by == "dialplan"


async def test_an_answered_link_with_no_key_is_bridged_until_the_centre_hangs_up(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("answer", after_s=0.01, hangup_after_s=0.2))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, key="")))
    await until_marked(fake, caller, "k")
    (leg,) = fake.switch.outbound_records()
    record = fake.switch.record(caller)
    assert record.bridged_with == [leg.channel_id] and leg.bridged_with == [caller]
    assert not record.moh, "the music stops when they are bridged"

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 k0 e0:ANSWER:16"
    assert gone.cause == 16 and record.hung_up_by == "dialplan"
    assert (leg.direction, leg.endpoint, leg.answered, leg.caller_id) == (
        "outbound",
        CENTRE,
        True,
        SHOWN,
    )
    assert prompts_heard(leg) == [PromptRef("whisper-roads", "en")]
    assert leg.hung_up_by == "callee"
    assert not fake.switch.find_events("StasisStart", channel_id=leg.channel_id)


async def test_the_accept_key_after_the_whisper_bridges(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("answer", press="1", hangup_after_s=0.3))
    caller = await hand_over(fake, client, http, plan(link(CENTRE), accept_timeout_s=5))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 w0 k0 e0:ANSWER:16"
    (leg,) = fake.switch.outbound_records()
    assert leg.dtmf == "1" and fake.switch.record(caller).bridged_with == [leg.channel_id]


async def test_the_accept_key_during_the_whisper_cuts_it_short(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.media_durations[f"sound:{LONG_WHISPER}"] = 60.0
    fake.switch.script_endpoint(CENTRE, Outcome("answer", press="1", press_after_s=0.01))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, whisper=LONG_WHISPER)))
    await until_marked(fake, caller, "k")
    fake.switch.hangup_caller(caller)

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 k0"
    (leg,) = fake.switch.outbound_records()
    assert leg.plays[0].state == "stopped"


async def test_a_wrong_key_lets_the_accept_time_run_out_and_the_next_link_is_tried(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("answer", press="2"))
    fake.switch.script_endpoint(BACKUP, Outcome("answer", hangup_after_s=0.1))
    caller = await hand_over(fake, client, http, plan(link(CENTRE), link(BACKUP, key="")))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 w0 e0:ANSWER:16 d1 a1 k1 e1:ANSWER:16"
    refused, accepted = fake.switch.outbound_records()
    assert refused.dtmf == "2" and refused.hung_up_by == "dialplan" and not refused.bridged_with
    assert fake.switch.record(caller).bridged_with == [accepted.channel_id]


async def test_a_wrong_key_during_the_whisper_cuts_it_short_and_the_accept_time_runs(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.media_durations[f"sound:{LONG_WHISPER}"] = 60.0
    fake.switch.script_endpoint(CENTRE, Outcome("answer", press="2", press_after_s=0.01))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, whisper=LONG_WHISPER)))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 w0 e0:ANSWER:16 m z"
    (leg,) = fake.switch.outbound_records()
    assert leg.plays[0].state == "stopped" and leg.hung_up_by == "dialplan"


async def test_no_key_within_the_accept_time_is_refused(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("answer"))
    caller = await hand_over(fake, client, http, plan(link(CENTRE)))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 w0 e0:ANSWER:16 m z"


async def test_a_centre_hanging_up_during_the_whisper_fails_the_link(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.media_durations[f"sound:{LONG_WHISPER}"] = 60.0
    fake.switch.script_endpoint(CENTRE, Outcome("answer", hangup_after_s=0.01))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, whisper=LONG_WHISPER)))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 e0:ANSWER:16 m z"
    assert fake.switch.outbound_records()[0].plays[0].state == "hangup"


@pytest.mark.parametrize("when", ["ringing", "whisper", "bridged"])
async def test_the_caller_hanging_up_ends_the_transfer(
    fake: FakeAri,
    client: AriClient,
    events: EventCollector,
    http: aiohttp.ClientSession,
    when: str,
) -> None:
    fake.switch.media_durations[f"sound:{LONG_WHISPER}"] = 60.0
    outcome = {
        "ringing": Outcome("ring"),
        "whisper": Outcome("answer"),
        "bridged": Outcome("answer", press="1", press_after_s=0.01),
    }[when]
    fake.switch.script_endpoint(CENTRE, outcome)
    caller = await hand_over(fake, client, http, plan(link(CENTRE, whisper=LONG_WHISPER)))
    await until_marked(fake, caller, {"ringing": "d", "whisper": "a", "bridged": "k"}[when])

    fake.switch.hangup_caller(caller)

    gone = await destroyed(events, caller)
    expected = {"ringing": "h d0", "whisper": "h d0 a0", "bridged": "h d0 a0 k0"}[when]
    assert course_of(gone) == expected
    assert about(events, caller)[-2:] == ["ChannelHangupRequest", "ChannelDestroyed"]
    (leg,) = fake.switch.outbound_records()
    assert leg.destroyed and leg.hung_up_by == "dialplan"
    assert fake.switch.record(caller).hung_up_by == "caller"


async def test_the_caller_hears_the_dialplans_progress_as_channel_variable_events(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    """Each mark is a Set() on the caller: a ChannelVarset to the subscribed application,
    and Dial events about the caller and its leg."""
    fake.switch.script_endpoint(CENTRE, Outcome("busy"))
    caller = await hand_over(fake, client, http, plan(link(CENTRE)))
    await destroyed(events, caller)
    varsets = [
        e.raw["value"]
        for e in events.events
        if isinstance(e, UnknownEvent) and e.type == "ChannelVarset"
    ]
    assert len(varsets) == 5 and varsets[-1].startswith(varsets[0])
    dials = [
        (e.caller.id if e.caller else None, e.dialstatus)
        for e in events.events
        if isinstance(e, Dial)
    ]
    assert dials == [(caller, ""), (caller, "BUSY")]


async def test_a_caller_with_no_plan_is_hung_up_once_the_empty_message_fails(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    caller = fake.switch.place_call()
    await subscription(http, fake, "POST", [f"channel:{caller}"])
    await client.continue_in_dialplan(caller, TRANSFER_CONTEXT, "s")
    gone = await destroyed(events, caller)
    assert course_of(gone) == "h m"
    assert fake.switch.record(caller).hung_up_by == "dialplan"


@pytest.mark.parametrize(
    "dial",
    ["nonsense,10", "nonsense,10,gmU(ivr311-whisper)"],
    ids=["unreadable", "no tech/resource"],
)
async def test_a_link_the_switch_cannot_dial_fails_at_once_and_the_next_is_tried(
    fake: FakeAri,
    client: AriClient,
    events: EventCollector,
    http: aiohttp.ClientSession,
    dial: str,
) -> None:
    fake.switch.script_endpoint(BACKUP, Outcome("busy"))
    caller = await hand_over(fake, client, http, plan(PlanLink(dial, WHISPER, "1"), link(BACKUP)))

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 e0:CHANUNAVAIL d1 e1:BUSY:17 m z"
    assert [leg.endpoint for leg in fake.switch.outbound_records()] == [BACKUP]


async def test_a_ringing_link_answered_and_accepted_through_the_control_api(
    fake: FakeAri, client: AriClient, events: EventCollector, http: aiohttp.ClientSession
) -> None:
    fake.switch.script_endpoint(CENTRE, Outcome("ring"))
    caller = await hand_over(fake, client, http, plan(link(CENTRE, ring_s=30), accept_timeout_s=5))
    await until_marked(fake, caller, "d")
    (leg,) = fake.switch.outbound_records()

    fake.switch.destination_answers(leg.channel_id, press="")
    await until_marked(fake, caller, "w")
    async with aiohttp.ClientSession() as control:
        pressed = f"{fake.url}/_fake/channels/{leg.channel_id}/dtmf"
        async with control.post(pressed, json={"digits": "1"}) as resp:
            assert resp.status == 204
    await until_marked(fake, caller, "k")
    fake.switch.hangup_caller(leg.channel_id)

    gone = await destroyed(events, caller)
    assert course_of(gone) == "h d0 a0 w0 k0 e0:ANSWER:16"
