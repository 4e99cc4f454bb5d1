"""Typed models of the ARI objects and events the controller uses.

Field names follow Asterisk's ``rest-api/api-docs/*.json``. Models ignore fields they do not
name, so newer Asterisk versions that add fields still parse. An event type the project does not
model becomes `UnknownEvent` (consumers ignore it); a frame that is not valid JSON or lacks a
required field is logged and skipped by `parse_event`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

log = structlog.get_logger(__name__)


class AriModel(BaseModel):
    """Base of every ARI model: immutable, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class CallerId(AriModel):
    name: str = ""
    number: str = ""


class DialplanLocation(AriModel):
    """Where a channel is in the dialplan (ARI's ``DialplanCEP``)."""

    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(AriModel):
    """A channel snapshot. ``state`` is Asterisk's text state, e.g. ``Down``, ``Ring``, ``Up``."""

    id: str
    name: str = ""
    state: str = ""
    protocol_id: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    accountcode: str = ""
    dialplan: DialplanLocation = DialplanLocation()
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None


class Bridge(AriModel):
    """A bridge snapshot; ``bridge_type`` is ``mixing`` or ``holding``."""

    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()
    creationtime: str = ""


class Playback(AriModel):
    """A playback; ``target_uri`` is ``channel:ID`` or ``bridge:ID``."""

    id: str
    media_uri: str = ""
    next_media_uri: str | None = None
    target_uri: str = ""
    language: str | None = None
    state: str = ""

    @property
    def channel_id(self) -> str | None:
        """The channel this playback plays to, or None when it plays to a bridge."""
        kind, _, ident = self.target_uri.partition(":")
        return ident if kind == "channel" and ident else None


class EventBase(AriModel):
    """Fields every event carries."""

    application: str = ""
    timestamp: str = ""
    asterisk_id: str | None = None

    @property
    def unix_time(self) -> float | None:
        """When Asterisk raised the event (``2026-12-07T02:50:01.123+0000``), None when the
        timestamp is missing or unreadable."""
        try:
            return datetime.fromisoformat(self.timestamp).timestamp()
        except ValueError:
            return None


class StasisStart(EventBase):
    """A channel entered the application; ``args`` are the ``Stasis()`` / ``appArgs`` arguments."""

    type: Literal["StasisStart"]
    args: tuple[str, ...] = ()
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(EventBase):
    type: Literal["StasisEnd"]
    channel: Channel


class ChannelDtmfReceived(EventBase):
    """A DTMF digit ended on a channel (sent once per key press)."""

    type: Literal["ChannelDtmfReceived"]
    digit: str
    duration_ms: int = 0
    channel: Channel


class PlaybackStarted(EventBase):
    type: Literal["PlaybackStarted"]
    playback: Playback


class PlaybackFinished(EventBase):
    """The playback ended: played to the end (``state`` ``done``), stopped, or ``failed``."""

    type: Literal["PlaybackFinished"]
    playback: Playback


class ChannelStateChange(EventBase):
    type: Literal["ChannelStateChange"]
    channel: Channel


class ChannelHangupRequest(EventBase):
    type: Literal["ChannelHangupRequest"]
    cause: int | None = None
    soft: bool | None = None
    channel: Channel


class ChannelDestroyed(EventBase):
    """The last event of a channel. ``cause`` is Q.850: 16 normal, 17 busy, 19 no answer, 21
    rejected."""

    type: Literal["ChannelDestroyed"]
    cause: int = 0
    cause_txt: str = ""
    channel: Channel


class Dial(EventBase):
    """Progress of a dial; ``dialstatus`` is empty while ringing, then ANSWER, BUSY, NOANSWER..."""

    type: Literal["Dial"]
    caller: Channel | None = None
    peer: Channel
    forward: str | None = None
    dialstring: str | None = None
    dialstatus: str = ""


class ChannelEnteredBridge(EventBase):
    type: Literal["ChannelEnteredBridge"]
    bridge: Bridge
    channel: Channel | None = None


class ApplicationReplaced(EventBase):
    """Another client connected with the same application name and took its events."""

    type: Literal["ApplicationReplaced"]


class UnknownEvent(EventBase):
    """An event type the project does not model; consumers ignore it."""

    type: str
    raw: dict[str, Any] = Field(default_factory=dict)


_KnownEvents = (
    StasisStart
    | StasisEnd
    | ChannelDtmfReceived
    | PlaybackStarted
    | PlaybackFinished
    | ChannelStateChange
    | ChannelHangupRequest
    | ChannelDestroyed
    | Dial
    | ChannelEnteredBridge
    | ApplicationReplaced
)
KnownEvent = Annotated[_KnownEvents, Field(discriminator="type")]


_KNOWN_EVENT = TypeAdapter[_KnownEvents](KnownEvent)


AriEvent = _KnownEvents | UnknownEvent


def event_type(model: type[EventBase]) -> str:
    """The ``type`` an event model parses, read off its ``type`` field."""
    return str(get_args(model.model_fields["type"].annotation)[0])


KNOWN_EVENT_TYPES = frozenset(event_type(model) for model in get_args(_KnownEvents))
"""The ``type`` of every event the controller parses, read off the event models."""


def parse_event(frame: str | bytes) -> AriEvent | None:
    """Parse one WebSocket text frame; None (and a warning in the log) when it is malformed.

    An event of a type not in `KNOWN_EVENT_TYPES` parses as `UnknownEvent`.
    """
    try:
        # the usual case in one step: pydantic parses and validates the JSON text itself
        return _KNOWN_EVENT.validate_json(frame)
    except ValidationError:
        pass
    return _parse_unusual(frame)


def _parse_unusual(frame: str | bytes) -> AriEvent | None:
    """An unknown event type, or a malformed frame (logged; None)."""
    try:
        data = orjson.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("ari.frame_malformed", reason="not json", error=str(exc)[:200])
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        log.warning("ari.frame_malformed", reason="no event type")
        return None
    if data["type"] not in KNOWN_EVENT_TYPES:
        return UnknownEvent(
            type=data["type"],
            application=str(data.get("application", "")),
            timestamp=str(data.get("timestamp", "")),
            raw=data,
        )
    try:
        return _KNOWN_EVENT.validate_python(data)
    except ValidationError as exc:
        log.warning(
            "ari.frame_malformed",
            reason="invalid fields",
            event_type=data["type"],
            errors=exc.error_count(),
            first_error=str(exc.errors()[0].get("loc")),
        )
        return None


def in_stasis(channel: Channel) -> bool:
    """The channel is in ``Stasis()`` (an application's), as its dialplan location tells."""
    return channel.dialplan.app_name.lower() == "stasis"


def stasis_args(channel: Channel) -> tuple[str, ...]:
    """The arguments of the ``Stasis()`` a channel is in, as its StasisStart carried them
    (read from its dialplan location; empty when it is not in ``Stasis()``)."""
    if not in_stasis(channel):
        return ()
    return tuple(channel.dialplan.app_data.split(",")[1:])


def event_channel_id(event: AriEvent) -> str | None:
    """The channel an event is about, for routing it to its call.

    Playback events name the channel of their ``target_uri``; ``Dial`` names its ``peer`` (the
    dialled leg); bridge events the channel that entered. ``ApplicationReplaced`` and
    unknown events belong to no channel.
    """
    match event:
        case PlaybackStarted() | PlaybackFinished():
            return event.playback.channel_id
        case Dial():
            return event.peer.id
        case ChannelEnteredBridge():
            return event.channel.id if event.channel is not None else None
        case (
            StasisStart()
            | StasisEnd()
            | ChannelDtmfReceived()
            | ChannelStateChange()
            | ChannelHangupRequest()
            | ChannelDestroyed()
        ):
            return event.channel.id
        case _:
            return None
