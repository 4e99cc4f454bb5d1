"""The objects the simulated Asterisk keeps: channels, bridges, playbacks, applications, and
the events it emitted; each renders itself as ARI's JSON (``snapshot``)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dialplan.transfer_plan import OUTCOME_VARIABLE
from switchsim.records import ChannelRecord, Outcome, PlayRecord

EventSink = Callable[[dict[str, Any]], None]

LOCATION_VARIABLE = "IVR311_LOCATION"
"""Channel variable an inbound call carries its delivered location in, as ``"lat,lon"``."""
ARI_CHANNELVARS = (LOCATION_VARIABLE, OUTCOME_VARIABLE)
"""The variables ari.conf's ``channelvars`` names: every channel snapshot carries them (``""``
for one not set), as Asterisk sends them."""


def ari_timestamp() -> str:
    """Now, as ARI writes times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class SwitchError(Exception):
    """A REST request Asterisk would refuse, with the status it would answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


@dataclass
class FakePlayback:
    id: str
    channel_id: str
    media: tuple[str, ...]
    lang: str | None
    record: PlayRecord
    state: str = "queued"
    index: int = 0
    failed: bool = False
    timer: asyncio.TimerHandle | None = None

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "media_uri": self.media[min(self.index, len(self.media) - 1)],
            "target_uri": f"channel:{self.channel_id}",
            "language": self.lang or "en",
            "state": self.state,
        }
        if self.index + 1 < len(self.media):
            data["next_media_uri"] = self.media[self.index + 1]
        return data


@dataclass
class FakeChannel:
    id: str
    name: str
    state: str
    caller_number: str
    caller_name: str
    context: str
    exten: str
    record: ChannelRecord
    subscribed_app: str | None = None
    """The application of the channel's Stasis() (or of its originate): events go to it."""
    subscribers: list[str] = field(default_factory=list)
    """Applications subscribed to the channel (``POST /applications/{app}/subscription``),
    once per subscription: events go to them too, also after the channel left Stasis."""
    on_destroyed: Callable[[int], None] | None = None
    """Called with the cause once the channel is destroyed (the dialplan running it learns
    its end)."""
    on_answer: Callable[[Outcome], None] | None = None
    """How a leg the dialplan dialled answers (`CallScripting.destination_answers`); None for
    an originated one, which enters the application."""
    on_dtmf: Callable[[str], None] | None = None
    """Where the keys pressed on a leg the dialplan dialled go (its whisper subroutine)."""
    in_app: bool = False
    app_args: tuple[str, ...] = ()
    """The arguments of the Stasis() the channel is in (its StasisStart's ``args``)."""
    outbound_timeout_s: float = 0.0
    bridge_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    playbacks: deque[FakePlayback] = field(default_factory=deque)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    press_on_playback: str = ""
    created: str = ""
    language: str = "en"
    pending_continue: tuple[str, str, int] | None = None
    """Where a continue request sends the channel once the playbacks ahead of it are over."""
    continue_behind: set[str] = field(default_factory=set)
    """Ids of the playbacks (playing or queued) the pending continue waits for."""

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": 1,
                "app_name": "Stasis" if self.in_app else "",
                "app_data": ",".join((self.subscribed_app or "", *self.app_args))
                if self.in_app
                else "",
            },
            "creationtime": self.created,
            "language": self.language,
            "channelvars": {name: self.variables.get(name, "") for name in ARI_CHANNELVARS},
        }


@dataclass
class FakeBridge:
    id: str
    bridge_type: str
    name: str
    app: str | None = None
    channels: list[str] = field(default_factory=list)
    created: str = ""

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "holding_bridge" if self.bridge_type == "holding" else "simple_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "video_mode": "none",
            "creationtime": self.created,
        }


@dataclass
class AppState:
    """An application as Asterisk's registry holds it: it stays after its socket goes away."""

    name: str
    sink: EventSink | None = None
    allowed: frozenset[str] = frozenset()
    """The event types its filter lets through (``PUT .../eventFilter``); empty: all."""

    def allows(self, type_: str) -> bool:
        """Whether its filter lets a message of ``type_`` through: an event, or the answer to
        a request made on its WebSocket (``RESTResponse``)."""
        return not self.allowed or type_ in self.allowed


@dataclass(frozen=True)
class EmittedEvent:
    app: str
    payload: dict[str, Any]
    delivered: bool


@dataclass
class Waiter:
    """Someone waiting until a predicate on the switch's state holds."""

    predicate: Callable[[], bool]
    future: asyncio.Future[None]
