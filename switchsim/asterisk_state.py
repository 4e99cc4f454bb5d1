"""The state of the simulated Asterisk: the objects it keeps (applications, channels, bridges,
playbacks, each channel's record), the events it sends the applications about them, and
telling those waiting on the switch that something changed.

Every operation is synchronous and runs on the event loop, so the events it emits are in one
order, the order Asterisk sends them in. An event about a channel goes to its application and
to those subscribed to it (`switchsim.subscriptions`).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from switchsim.objects import (
    AppState,
    EmittedEvent,
    FakeBridge,
    FakeChannel,
    FakePlayback,
    SwitchError,
    Waiter,
    ari_timestamp,
)
from switchsim.records import ChannelRecord, Outcome

LOADED_MODULES = frozenset({"pbx_config", "app_stasis", "res_ari", "res_stasis", "chan_pjsip"})
"""Modules the switch reports as loaded (``PUT /asterisk/modules/{name}`` reloads them)."""


class AsteriskState:
    """The objects the switch keeps, the events it sends about them, and its waiters.

    ``playback_s`` is how long each media URI plays unless ``media_durations`` names it;
    ``sound_exists`` (when given) says whether a sound file exists, by its name in the sounds
    directory without extension (``en/ivr311/greeting``): a ``sound:`` media none of whose
    `switchsim.playbacks.sound_files` exists fails as in Asterisk; ``default_outcome``
    answers originates to endpoints no script names; ``event_log`` False keeps no `events`;
    ``answer_before_stasis`` is whether the dialplan the switch runs for a carrier's call
    answers it before ``Stasis()``, as the generated one does (False: a dialplan that enters
    Stasis with the channel still ringing, ``Ring``).
    """

    def __init__(
        self,
        *,
        answer_before_stasis: bool = True,
        asterisk_id: str = "fa:ke:00:00:00:01",
        playback_s: float = 0.05,
        media_durations: Mapping[str, float] | None = None,
        sound_exists: Callable[[str], bool] | None = None,
        default_outcome: Outcome | None = None,
        event_log: bool = True,
    ) -> None:
        self.answer_before_stasis = answer_before_stasis
        self.asterisk_id = asterisk_id
        self.event_log = event_log
        """Whether `events` keeps what was emitted (off for long runs of thousands of calls,
        whose events would take most of the memory; `events` then stays empty)."""
        self.playback_s = playback_s
        self.media_durations = dict(media_durations or {})
        self.sound_exists = sound_exists
        self.default_outcome = default_outcome or Outcome()
        self.apps: dict[str, AppState] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, FakeBridge] = {}
        self.playbacks: dict[str, FakePlayback] = {}
        self.records: dict[str, ChannelRecord] = {}
        self.events: list[EmittedEvent] = []
        self._scripts: dict[str, deque[Outcome]] = {}
        self._waiters: list[Waiter] = []
        self._channel_waiters: dict[str, list[Waiter]] = {}
        """Waiters on one channel's record, re-checked only when that channel changed."""
        self._touched: set[str] = set()
        """Channels changed since the waiters were last checked."""
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self.loaded_modules: set[str] = set(LOADED_MODULES)
        """Remove a name to make its reload fail with 404, as for a module not loaded."""
        self.module_reloads: list[str] = []
        """Modules reloaded through ARI, in order."""
        self.channel_moh_error: SwitchError | None = None
        """When set, starting music on hold on a channel answers this error. Asterisk itself
        answers 204 once the start is queued, even for music that then cannot start (a class
        or ``res_musiconhold`` missing: it logs, the caller hears nothing); it refuses a
        channel that is gone (404), out of the application (409) or not answered (412), and
        an Asterisk in trouble answers a server error or nothing at all."""

    def _changed(self) -> None:
        for waiter in list(self._waiters):
            _check(waiter)
        touched, self._touched = self._touched, set()
        for channel_id in touched:
            for waiter in list(self._channel_waiters.get(channel_id, ())):
                _check(waiter)

    def _touch(self, channel_id: str) -> None:
        """The channel's record changed: its waiters are checked at the next `_changed`."""
        if channel_id in self._channel_waiters:
            self._touched.add(channel_id)

    def _payload(self, app: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            **body,
            "application": app,
            "timestamp": ari_timestamp(),
            "asterisk_id": self.asterisk_id,
        }

    def _emit(self, app: str | None, body: dict[str, Any]) -> None:
        if app is None:
            return
        payload = self._payload(app, body)
        state = self.apps.get(app)
        delivered = state is not None and state.sink is not None and state.allows(body["type"])
        if delivered and state is not None and state.sink is not None:
            state.sink(payload)
        if self.event_log:
            self.events.append(EmittedEvent(app, payload, delivered))

    def _emit_for(self, ch: FakeChannel, body: dict[str, Any]) -> None:
        """Emit an event about ``ch`` to every application interested in it: the one whose
        Stasis() it is in (or that originated it), and those subscribed to it."""
        self._emit(ch.subscribed_app, body)
        if ch.subscribers:
            for app in dict.fromkeys(ch.subscribers):
                if app != ch.subscribed_app:
                    self._emit(app, body)

    def _emit_channel(self, ch: FakeChannel, type_: str, **fields: Any) -> None:
        self._emit_for(ch, {"type": type_, **fields, "channel": ch.snapshot()})

    def _note(self, ch: FakeChannel, text: str) -> None:
        ch.record.history.append(text)
        self._touch(ch.id)

    def _channel(self, channel_id: str) -> FakeChannel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SwitchError(404, "Channel not found")
        return ch

    def _stasis_channel(self, channel_id: str) -> FakeChannel:
        ch = self._channel(channel_id)
        if not ch.in_app:
            raise SwitchError(409, "Channel not in Stasis application")
        return ch


def _check(waiter: Waiter) -> None:
    """Settle ``waiter`` when its predicate holds (or raises)."""
    if waiter.future.done():
        return
    try:
        ready = waiter.predicate()
    except Exception as exc:
        waiter.future.set_exception(exc)
        return
    if ready:
        waiter.future.set_result(None)
