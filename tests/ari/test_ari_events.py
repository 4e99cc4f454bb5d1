"""Parsing ARI event frames shaped like Asterisk 22 sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.ari.events import (
    ApplicationReplaced,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelStateChange,
    Dial,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    event_channel_id,
    parse_event,
)

CHANNEL: dict[str, Any] = {
    "id": "1700000000.42",
    "name": "PJSIP/carrier-0000002a",
    "state": "Ring",
    "protocol_id": "abc@10.0.0.1",
    "caller": {"name": "", "number": "+19055550123"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-carrier",
        "exten": "311",
        "priority": 3,
        "app_name": "Stasis",
        "app_data": "ivr311,inbound,311",
    },
    "creationtime": "2026-11-22T18:00:00.000+0000",
    "language": "en",
    "some_future_field": {"x": 1},
}
BRIDGE: dict[str, Any] = {
    "id": "call-1-mix",
    "technology": "simple_bridge",
    "bridge_type": "mixing",
    "bridge_class": "stasis",
    "creator": "Stasis",
    "name": "",
    "channels": ["1700000000.42"],
    "creationtime": "2026-11-22T18:00:01.000+0000",
    "video_mode": "none",
}
PLAYBACK: dict[str, Any] = {
    "id": "call-1-pb-1",
    "media_uri": "sound:ivr311/greeting",
    "target_uri": "channel:1700000000.42",
    "language": "fr_CA",
    "state": "playing",
}
BASE = {"application": "ivr311", "timestamp": "2026-11-22T18:00:00.000+0000"}


def frame(type_: str, **fields: Any) -> str:
    return json.dumps({"type": type_, **BASE, "asterisk_id": "00:11:22:33:44:55", **fields})


def test_stasis_start() -> None:
    event = parse_event(frame("StasisStart", args=["inbound", "311"], channel=CHANNEL))
    assert isinstance(event, StasisStart)
    assert event.args == ("inbound", "311")
    assert event.channel.caller.number == "+19055550123"
    assert event.channel.dialplan.exten == "311"
    assert event.channel.state == "Ring"
    assert event_channel_id(event) == "1700000000.42"


@pytest.mark.parametrize(
    ("type_", "fields", "model"),
    [
        ("StasisEnd", {"channel": CHANNEL}, StasisEnd),
        ("ChannelStateChange", {"channel": CHANNEL}, ChannelStateChange),
        (
            "ChannelHangupRequest",
            {"cause": 16, "soft": False, "channel": CHANNEL},
            ChannelHangupRequest,
        ),
        (
            "ChannelDtmfReceived",
            {"digit": "#", "duration_ms": 120, "channel": CHANNEL},
            ChannelDtmfReceived,
        ),
        (
            "ChannelDestroyed",
            {"cause": 17, "cause_txt": "User busy", "channel": CHANNEL},
            ChannelDestroyed,
        ),
        ("ChannelEnteredBridge", {"bridge": BRIDGE, "channel": CHANNEL}, ChannelEnteredBridge),
        ("Dial", {"peer": CHANNEL, "dialstring": "+12895550101", "dialstatus": "BUSY"}, Dial),
    ],
)
def test_channel_events_route_to_their_channel(
    type_: str, fields: dict[str, Any], model: type
) -> None:
    event = parse_event(frame(type_, **fields))
    assert isinstance(event, model)
    assert event_channel_id(event) == CHANNEL["id"]


def test_channel_destroyed_keeps_the_q850_cause() -> None:
    event = parse_event(frame("ChannelDestroyed", cause=19, cause_txt="No answer", channel=CHANNEL))
    assert isinstance(event, ChannelDestroyed)
    assert (event.cause, event.cause_txt) == (19, "No answer")


@pytest.mark.parametrize("type_", ["PlaybackStarted", "PlaybackFinished"])
def test_playback_events_route_to_the_target_channel(type_: str) -> None:
    event = parse_event(frame(type_, playback=PLAYBACK))
    assert isinstance(event, PlaybackStarted | PlaybackFinished)
    assert event.playback.id == "call-1-pb-1"
    assert event.playback.language == "fr_CA"
    assert event_channel_id(event) == "1700000000.42"


def test_a_playback_on_a_bridge_belongs_to_no_channel() -> None:
    event = parse_event(frame("PlaybackStarted", playback={**PLAYBACK, "target_uri": "bridge:b"}))
    assert event is not None and event_channel_id(event) is None


def test_application_replaced() -> None:
    event = parse_event(frame("ApplicationReplaced"))
    assert isinstance(event, ApplicationReplaced)
    assert event.application == "ivr311"
    assert event_channel_id(event) is None


def test_unknown_event_types_parse_as_unknown() -> None:
    event = parse_event(frame("ChannelVarset", variable="X", value="1", channel=CHANNEL))
    assert isinstance(event, UnknownEvent)
    assert event.type == "ChannelVarset"
    assert event.raw["variable"] == "X"
    assert event_channel_id(event) is None


def test_a_channel_leaving_a_bridge_is_an_event_nothing_acts_on() -> None:
    """The event filter keeps it out; an Asterisk without one sends it, and it is ignored."""
    event = parse_event(frame("ChannelLeftBridge", bridge=BRIDGE, channel=CHANNEL))
    assert isinstance(event, UnknownEvent)
    assert event_channel_id(event) is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[1, 2]",
        '{"no_type": 1}',
        '{"type": 7}',
        frame("StasisStart", args=["inbound"]),  # no channel
        frame("ChannelDtmfReceived", channel=CHANNEL),  # no digit
        frame("ChannelDestroyed", cause="busy", cause_txt="x", channel=CHANNEL),
        frame("StasisStart", args=[], channel={"name": "no id"}),
    ],
)
def test_malformed_frames_are_none(raw: str) -> None:
    assert parse_event(raw) is None


@given(st.text(max_size=200))
def test_parse_event_never_raises(raw: str) -> None:
    parse_event(raw)
