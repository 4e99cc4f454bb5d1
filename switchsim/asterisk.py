"""Asterisk's behaviour: channels, bridges, playbacks, applications and the REST calls on them.

Every operation is synchronous and runs on the event loop, so the events it emits are in one
order, the order Asterisk sends them in (checked against Asterisk 22's res/ari and res_stasis):
a hang-up is ChannelHangupRequest, PlaybackFinished, ChannelLeftBridge, StasisEnd,
ChannelDestroyed; an originated leg that fails never gets StasisStart, only ChannelDestroyed
with its Q.850 cause. Durations (playbacks, originate outcomes) run on the asyncio clock.
REST errors are raised as `SwitchError` with Asterisk's status codes. A channel continued to the
dialplan's transfer context runs it (`switchsim.dialplan_transfer`); an event about a channel
goes to its application and to those subscribed to it (`switchsim.subscriptions`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dialplan.transfer_plan import TRANSFER_CONTEXT
from switchsim.dialplan_transfer import DialplanTransfer
from switchsim.objects import (
    AppState,
    EmittedEvent,
    EventSink,
    FakeBridge,
    FakeChannel,
    FakePlayback,
    SwitchError,
    Waiter,
    ari_timestamp,
)
from switchsim.records import (
    FAILURE_CAUSES,
    HANGUP_REASONS,
    NORMAL_CLEARING,
    ChannelRecord,
    HungUpBy,
    Outcome,
    PlayRecord,
)

LOADED_MODULES = frozenset({"pbx_config", "app_stasis", "res_ari", "res_stasis", "chan_pjsip"})
"""Modules the switch reports as loaded (``PUT /asterisk/modules/{name}`` reloads them)."""


def _parse_caller_id(raw: str) -> tuple[str, str]:
    """``"Name" <+1905...>`` or a bare number -> (name, number)."""
    if "<" in raw and raw.endswith(">"):
        name, _, number = raw[:-1].partition("<")
        return name.strip().strip('"'), number.strip()
    return "", raw.strip()


DEFAULT_LANGUAGE = "en"


def sound_files(name: str, lang: str | None) -> list[str]:
    """The files Asterisk looks for, in order, when it plays ``sound:<name>`` in language
    ``lang`` (``fileexists_core`` in its ``main/file.c``): ``<lang>/<name>``, again with each
    ``_`` suffix of ``lang`` cut off (``fr_CA``, ``fr``), ``<name>`` without a language, then
    ``en/<name>`` unless ``en`` was tried. An absolute name is the only file."""
    if name.startswith("/"):
        return [name]
    languages = []
    language = lang or DEFAULT_LANGUAGE
    while language:
        languages.append(language)
        language = language.rpartition("_")[0]
    files = [f"{tried}/{name}" for tried in languages]
    files.append(name)
    if DEFAULT_LANGUAGE not in (languages[0], languages[-1]):
        files.append(f"{DEFAULT_LANGUAGE}/{name}")
    return files


class SimulatedAsterisk:
    """Channels, bridges, playbacks and applications, and the REST operations on them.

    ``playback_s`` is how long each media URI plays unless ``media_durations`` names it;
    ``sound_exists`` (when given) says whether a sound file exists, by its name in the sounds
    directory without extension (``en/ivr311/greeting``): a ``sound:`` media none of whose
    `sound_files` exists fails as in Asterisk; ``default_outcome`` answers originates to
    endpoints no script names; ``event_log`` False keeps no `events`; ``answer_before_stasis``
    is whether the dialplan the switch runs for a carrier's call answers it before
    ``Stasis()``, as the generated one does (False: a dialplan that enters Stasis with the
    channel still ringing, ``Ring``).
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

    # --- applications and events -------------------------------------------------------------

    def connect_app(self, name: str, sink: EventSink) -> None:
        """A WebSocket subscribed to ``name``; an earlier one gets ApplicationReplaced."""
        app = self.apps.setdefault(name, AppState(name))
        if app.sink is not None and app.sink != sink:
            app.sink(self._payload(name, {"type": "ApplicationReplaced"}))
        app.sink = sink
        self._changed()

    def disconnect_app(self, name: str, sink: EventSink) -> None:
        """The WebSocket went away; the application stays registered, inactive."""
        app = self.apps.get(name)
        if app is not None and app.sink == sink:
            app.sink = None
            self._changed()

    def app_connected(self, name: str) -> bool:
        app = self.apps.get(name)
        return app is not None and app.sink is not None

    def filter_events(self, name: str, allowed: list[str]) -> dict[str, Any]:
        """``PUT /applications/{name}/eventFilter`` with an allowed list (empty: every event)."""
        app = self.apps.get(name)
        if app is None:
            raise SwitchError(404, "Application not found")
        app.allowed = frozenset(allowed)
        return self.application(name)

    def event_allowed(self, name: str, type_: str) -> bool:
        """Whether application ``name``'s filter lets a message of ``type_`` through (none
        reaches an application Asterisk does not know)."""
        app = self.apps.get(name)
        return app is not None and app.allows(type_)

    def application(self, name: str) -> dict[str, Any]:
        """``GET /applications/{name}``."""
        app = self.apps.get(name)
        if app is None:
            raise SwitchError(404, "Application not found")
        return {
            "name": name,
            "channel_ids": [
                c.id
                for c in self.channels.values()
                if c.subscribed_app == name or name in c.subscribers
            ],
            "bridge_ids": [b.id for b in self.bridges.values() if b.app == name],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [{"type": t} for t in sorted(app.allowed)],
            "events_disallowed": [],
        }

    def ping(self) -> dict[str, Any]:
        return {"asterisk_id": self.asterisk_id, "ping": "pong", "timestamp": ari_timestamp()}

    def reload_module(self, name: str) -> None:
        """``PUT /asterisk/modules/{name}``: 404 when the module is not loaded."""
        if name.removesuffix(".so") not in self.loaded_modules:
            raise SwitchError(404, "Module not found in running modules")
        self.module_reloads.append(name)
        self._changed()

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

    # --- the people on the channels ----------------------------------------------------------

    def _far_end_presses(self, channel_id: str, digits: str, duration_ms: int = 100) -> None:
        ch = self._channel(channel_id)
        for digit in digits:
            ch.record.dtmf += digit
            self._note(ch, f"dtmf {digit}")
            self._emit_channel(ch, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms)
        if ch.on_dtmf is not None:
            ch.on_dtmf(digits)
        self._changed()

    def _far_end_hangs_up(self, channel_id: str, cause: int = 16) -> None:
        ch = self._channel(channel_id)
        who: HungUpBy = "caller" if ch.record.direction == "inbound" else "callee"
        self._destroy(ch, cause, _cause_text(cause), by=who)

    # --- REST: channels ----------------------------------------------------------------------

    def get_channel(self, channel_id: str) -> dict[str, Any]:
        return self._channel(channel_id).snapshot()

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

    def answer(self, channel_id: str) -> None:
        """As Asterisk's ``ast_raw_answer``: a channel already ``Up`` (answered by the
        dialplan) stays as it is, no event, and the request succeeds."""
        ch = self._stasis_channel(channel_id)
        if ch.state == "Up":
            return
        ch.state = "Up"
        ch.record.answered = True
        ch.record.ringing = False  # the far end stops its ringback on the answer
        self._note(ch, "answered")
        self._emit_channel(ch, "ChannelStateChange")
        self._changed()

    def ring(self, channel_id: str) -> None:
        """Indicate ringing: ringback before the answer, a ringing tone Asterisk generates on
        an answered channel. It lasts until `ring_stop`, also in a bridge and after the channel
        leaves the application (as Asterisk's tone generator does). Asterisk's 412 is for an
        unanswered outbound channel inside the application (``/channels/create``); an
        originated leg enters the application only when it answers, so it is 409 before."""
        ch = self._stasis_channel(channel_id)
        ch.record.rang = True
        ch.record.ringing = True
        self._note(ch, "ringing")
        self._changed()

    def ring_stop(self, channel_id: str) -> None:
        ch = self._stasis_channel(channel_id)
        if ch.record.ringing:
            ch.record.ringing = False
            self._note(ch, "ringing stopped")
        self._changed()

    def hangup(self, channel_id: str, reason: str | None) -> None:
        ch = self._channel(channel_id)
        cause = HANGUP_REASONS.get(reason or "normal")
        if cause is None:
            raise SwitchError(400, "Invalid reason for hangup provided")
        self._destroy(ch, cause[0], cause[1], by="app")

    def continue_in_dialplan(
        self, channel_id: str, context: str | None, exten: str | None, priority: int | None
    ) -> None:
        """Asterisk queues the continue on the channel's control command queue
        (``stasis_app_control_continue`` is asynchronous), behind the playback in progress and
        every playback queued before it: each ``play_uri`` command blocks the queue until its
        media has played (or the playback was stopped; a stopped queued one is cancelled and
        skipped). Only then does the channel leave the application. A second continue before
        that replaces the target (the commands run back to back, the last goto wins);
        playbacks requested after the continue never play."""
        ch = self._stasis_channel(channel_id)
        target = (context or ch.context, exten or ch.exten, priority if priority else 1)
        if ch.pending_continue is None:
            ch.continue_behind = {pb.id for pb in ch.playbacks}
        ch.pending_continue = target
        self._note(ch, f"continue to {target[0]},{target[1]},{target[2]} queued")
        self._settle_continue(ch)
        self._changed()

    def _settle_continue(self, ch: FakeChannel) -> bool:
        """Carry out a pending continue once no playback ahead of it is left; True if it was."""
        target = ch.pending_continue
        if target is None or not ch.in_app:
            return False
        if any(pb.id in ch.continue_behind for pb in ch.playbacks):
            return False
        ch.pending_continue = None
        ch.continue_behind = set()
        for pb in list(ch.playbacks):
            # Queued after the continue: flushed with the command queue, no event.
            if pb.timer is not None:
                pb.timer.cancel()
            ch.playbacks.remove(pb)
            self.playbacks.pop(pb.id, None)
            pb.record.state = "flushed"
        self._leave_bridge(ch)
        ch.in_app = False
        ch.record.continued_to = target
        self._note(ch, f"continued to {target[0]},{target[1]},{target[2]}")
        self._emit_channel(ch, "StasisEnd")
        ch.subscribed_app = None
        ch.context, ch.exten = target[0], target[1]
        if ch.context == TRANSFER_CONTEXT:
            DialplanTransfer.enter(self, ch)
        return True

    def get_variable(self, channel_id: str, name: str) -> dict[str, Any]:
        ch = self._channel(channel_id)
        if not name:
            raise SwitchError(400, "Variable name is required")
        if name not in ch.variables:
            raise SwitchError(404, "Provided variable was not found")
        return {"value": ch.variables[name]}

    def set_variable(self, channel_id: str, name: str, value: str) -> None:
        if not name:
            raise SwitchError(400, "Variable name is required")
        ch = self._stasis_channel(channel_id)
        ch.variables[name] = value
        self._note(ch, f"set {name}")
        self._changed()

    def channel_moh(self, channel_id: str, moh_class: str | None, on: bool) -> None:
        """Music on hold on the channel itself, as Asterisk's channel generator: it replaces a
        ringing tone the channel hears (one generator at a time), it stays on when the channel
        joins a bridge (the channel then hears the music, nothing of the bridge), and a
        playback to the channel outside a bridge suspends it for good (`_start_playback`)."""
        ch = self._stasis_channel(channel_id)
        if ch.state in ("Down", "Ringing"):
            raise SwitchError(412, "Channel in invalid state")
        if on and self.channel_moh_error is not None:
            raise self.channel_moh_error
        if on and ch.record.ringing and ch.state == "Up":
            ch.record.ringing = False
            self._note(ch, "ringing replaced by moh")
        ch.record.moh = on
        self._note(ch, f"moh {'on' if on else 'off'}" + (f" {moh_class}" if moh_class else ""))
        self._changed()

    def originate(
        self,
        channel_id: str,
        endpoint: str,
        *,
        app: str | None,
        app_args: str | None,
        caller_id: str | None,
        timeout_s: int | None,
        originator: str | None,
        variables: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if channel_id in self.channels:
            raise SwitchError(409, "Channel with given unique ID already exists")
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise SwitchError(400, "Endpoint must be in the format [tech]/[resource]")
        if not app:
            raise SwitchError(400, "Application or extension is required")
        if originator is not None and originator not in self.channels:
            raise SwitchError(400, "Provided originator channel was not found")
        n = next(self._ids)
        args = tuple(a for a in (app_args or "").split(",") if a) if app_args else ()
        name, number = _parse_caller_id(caller_id or "")
        record = ChannelRecord(
            channel_id=channel_id,
            direction="outbound",
            endpoint=endpoint,
            app_args=args,
            originator=originator,
            caller_id=caller_id or "",
        )
        ch = FakeChannel(
            id=channel_id,
            name=f"{tech}/{resource.partition('@')[0]}-{n:08x}",
            state="Down",
            caller_number=number,
            caller_name=name,
            context="default",
            exten="s",
            record=record,
            subscribed_app=app,
            created=ari_timestamp(),
        )
        ch.variables.update(variables or {})
        self.channels[channel_id] = ch
        self.records[channel_id] = record
        self._note(ch, f"dialled {endpoint}")
        self._emit_channel(ch, "ChannelCreated")
        self._emit(
            app, {"type": "Dial", "peer": ch.snapshot(), "dialstring": resource, "dialstatus": ""}
        )
        outcome = self._next_outcome(endpoint)
        if outcome.kind in ("answer", "no_answer", "ring"):
            ch.state = "Ringing"  # the far end alerts; busy and rejected never get this far
            self._note(ch, "ringing")
            self._emit_channel(ch, "ChannelStateChange")
        loop = asyncio.get_running_loop()
        ch.timers.append(loop.call_later(outcome.after_s, self._settle, channel_id, outcome, args))
        limit = float(timeout_s if timeout_s and timeout_s > 0 else 30)
        ch.timers.append(loop.call_later(limit, self._originate_timeout, channel_id))
        self._changed()
        return ch.snapshot()

    def _next_outcome(self, endpoint: str) -> Outcome:
        resource = endpoint.partition("/")[2].partition("@")[0]
        for key in (endpoint, resource):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft() if len(queue) > 1 else queue[0]
        return self.default_outcome

    def _settle(self, channel_id: str, outcome: Outcome, args: tuple[str, ...]) -> None:
        ch = self.channels.get(channel_id)
        if ch is None or ch.state == "Up":
            return
        if outcome.kind == "ring":
            return  # rings on until the originate's timeout
        if outcome.kind != "answer":
            cause, text, dialstatus = FAILURE_CAUSES[outcome.kind]
            self._note(ch, f"failed: {outcome.kind}")
            self._emit_for(ch, {"type": "Dial", "peer": ch.snapshot(), "dialstatus": dialstatus})
            self._destroy(ch, cause, text, by="callee")
            return
        ch.state = "Up"
        ch.record.answered = True
        self._note(ch, "answered")
        if ch.subscribed_app is None or not self.app_connected(ch.subscribed_app):
            # The answered leg runs Stasis(app); with the app gone Stasis fails and the leg ends.
            ch.record.stasis_failed = True
            self._note(ch, "Stasis failed: application not connected")
            self._destroy(ch, *NORMAL_CLEARING, by="callee")
            return
        ch.in_app = True
        ch.app_args = tuple(args)
        ch.record.entered_app = True
        self._emit_channel(ch, "ChannelStateChange")
        self._emit_for(ch, {"type": "Dial", "peer": ch.snapshot(), "dialstatus": "ANSWER"})
        self._emit_channel(ch, "StasisStart", args=list(args))
        loop = asyncio.get_running_loop()
        if outcome.press:
            if outcome.press_after_s is None:
                ch.press_on_playback = outcome.press
            else:
                ch.timers.append(
                    loop.call_later(outcome.press_after_s, self._callee_press, ch.id, outcome.press)
                )
        if outcome.hangup_after_s is not None:
            ch.timers.append(loop.call_later(outcome.hangup_after_s, self._callee_hangup, ch.id))
        self._changed()

    def _callee_press(self, channel_id: str, digits: str) -> None:
        if channel_id in self.channels:
            self._far_end_presses(channel_id, digits)

    def _callee_hangup(self, channel_id: str) -> None:
        if channel_id in self.channels:
            self._far_end_hangs_up(channel_id)

    def _originate_timeout(self, channel_id: str) -> None:
        ch = self.channels.get(channel_id)
        if ch is None or ch.state == "Up":
            return
        cause, text, dialstatus = FAILURE_CAUSES["no_answer"]
        self._note(ch, "failed: originate timeout")
        self._emit_for(ch, {"type": "Dial", "peer": ch.snapshot(), "dialstatus": dialstatus})
        self._destroy(ch, cause, text, by="callee")

    def _destroy(self, ch: FakeChannel, cause: int, cause_txt: str, *, by: HungUpBy) -> None:
        """Hang a channel up, emitting Asterisk's sequence of events."""
        if ch.id not in self.channels:
            return
        if ch.record.direction == "outbound" and ch.state != "Up" and by == "app":
            self._emit_for(ch, {"type": "Dial", "peer": ch.snapshot(), "dialstatus": "CANCEL"})
        if by != "callee" or ch.state == "Up":
            self._emit_channel(ch, "ChannelHangupRequest", cause=cause)
        self._stop_channel_playbacks(ch, "done", "hangup")
        self._leave_bridge(ch)
        if ch.in_app:
            ch.in_app = False
            self._emit_channel(ch, "StasisEnd")
        for timer in ch.timers:
            timer.cancel()
        del self.channels[ch.id]
        ch.record.destroyed = True
        ch.record.ringing = False
        ch.record.cause = cause
        if ch.record.hung_up_by is None:
            ch.record.hung_up_by = by
        self._note(ch, f"hung up by {by} cause={cause}")
        self._emit_channel(ch, "ChannelDestroyed", cause=cause, cause_txt=cause_txt)
        if ch.on_destroyed is not None:
            ch.on_destroyed(cause)
        self._changed()

    # --- REST: playbacks -----------------------------------------------------------------------

    def play(
        self, channel_id: str, playback_id: str, media: Sequence[str], lang: str | None
    ) -> dict[str, Any]:
        if not media or not all(media):
            raise SwitchError(400, "media parameter is required")
        ch = self._stasis_channel(channel_id)
        record = PlayRecord(playback_id, tuple(media), lang)
        pb = FakePlayback(playback_id, channel_id, tuple(media), lang, record)
        ch.record.plays.append(record)
        ch.playbacks.append(pb)
        self.playbacks[playback_id] = pb
        snapshot = pb.snapshot()
        if len(ch.playbacks) == 1:
            asyncio.get_running_loop().call_soon(self._start_playback, ch.id)
        self._changed()
        return snapshot

    def get_playback(self, playback_id: str) -> dict[str, Any]:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise SwitchError(404, "Playback not found")
        return pb.snapshot()

    def stop_playback(self, playback_id: str) -> None:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise SwitchError(404, "Playback not found")
        ch = self.channels[pb.channel_id]
        was_playing = bool(ch.playbacks) and ch.playbacks[0] is pb
        self._finish_playback(ch, pb, "done", "stopped")
        if was_playing:
            self._next_playback(ch)
        self._changed()

    def _next_playback(self, ch: FakeChannel) -> None:
        """The playback in progress is over: a continue waiting for it goes through, or the
        next queued playback starts."""
        if not self._settle_continue(ch):
            self._start_playback(ch.id)

    def _media_duration(self, uri: str) -> float:
        return self.media_durations.get(uri, self.playback_s)

    def _media_ok(self, uri: str, lang: str | None) -> bool:
        if self.sound_exists is None or not uri.startswith("sound:"):
            return True
        return any(map(self.sound_exists, sound_files(uri.removeprefix("sound:"), lang)))

    def _start_playback(self, channel_id: str) -> None:
        ch = self.channels.get(channel_id)
        if ch is None or not ch.playbacks:
            return
        pb = ch.playbacks[0]
        if pb.state != "queued":
            return
        pb.state = "playing"
        pb.record.state = "playing"
        pb.record.started = True
        if ch.record.moh and ch.bridge_id is None:
            # Asterisk stops the channel's generator to stream the file and does not start
            # the music again afterwards (ARI: the application must start it again).
            ch.record.moh = False
            self._note(ch, "moh suspended")
        self._note(ch, "play " + ",".join(pb.media) + (f" lang={pb.lang}" if pb.lang else ""))
        self._emit_for(ch, {"type": "PlaybackStarted", "playback": pb.snapshot()})
        self._schedule_media(ch, pb)
        self._changed()

    def _schedule_media(self, ch: FakeChannel, pb: FakePlayback) -> None:
        uri = pb.media[pb.index]
        pb.failed = not self._media_ok(uri, pb.lang)
        if pb.failed:
            self._note(ch, f"media missing {uri}")
        duration = 0.0 if pb.failed else self._media_duration(uri)
        pb.timer = asyncio.get_running_loop().call_later(duration, self._advance, ch.id, pb.id)

    def _advance(self, channel_id: str, playback_id: str) -> None:
        ch = self.channels.get(channel_id)
        pb = self.playbacks.get(playback_id)
        if ch is None or pb is None or pb.state not in ("playing", "continuing"):
            return
        if pb.index + 1 < len(pb.media):
            pb.index += 1
            pb.state = "continuing"
            self._emit_for(ch, {"type": "PlaybackContinuing", "playback": pb.snapshot()})
            pb.state = "playing"
            self._schedule_media(ch, pb)
            return
        failed = pb.failed
        self._finish_playback(
            ch, pb, "failed" if failed else "done", "failed" if failed else "done"
        )
        if ch.press_on_playback:
            digits, ch.press_on_playback = ch.press_on_playback, ""
            self._far_end_presses(ch.id, digits)
        if ch.id in self.channels:
            self._next_playback(ch)
        self._changed()

    def _finish_playback(
        self, ch: FakeChannel, pb: FakePlayback, state: str, record_state: str
    ) -> None:
        if pb.timer is not None:
            pb.timer.cancel()
        if pb in ch.playbacks:
            ch.playbacks.remove(pb)
        self.playbacks.pop(pb.id, None)
        pb.record.state = record_state
        pb.state = state
        self._touch(ch.id)
        self._emit_for(ch, {"type": "PlaybackFinished", "playback": pb.snapshot()})

    def _stop_channel_playbacks(self, ch: FakeChannel, state: str, record_state: str) -> None:
        for pb in list(ch.playbacks):
            self._finish_playback(ch, pb, state, record_state)

    # --- REST: bridges -------------------------------------------------------------------------

    def create_bridge(self, bridge_id: str, type_: str | None, name: str | None) -> dict[str, Any]:
        if bridge_id in self.bridges:
            raise SwitchError(409, f"Bridge with id '{bridge_id}' already exists")
        kinds = {k.strip() for k in (type_ or "mixing").split(",") if k.strip()}
        allowed = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single"}
        if not kinds <= allowed or ("mixing" in kinds and "holding" in kinds):
            raise SwitchError(400, "Invalid bridge type")
        bridge_type = "holding" if "holding" in kinds else "mixing"
        bridge = FakeBridge(bridge_id, bridge_type, name or "", created=ari_timestamp())
        self.bridges[bridge_id] = bridge
        self._changed()
        return bridge.snapshot()

    def get_bridge(self, bridge_id: str) -> dict[str, Any]:
        return self._bridge(bridge_id).snapshot()

    def _bridge(self, bridge_id: str) -> FakeBridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise SwitchError(404, "Bridge not found")
        return bridge

    def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        bridge = self._bridge(bridge_id)
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SwitchError(400, "Channel not found")
            if not ch.in_app:
                raise SwitchError(422, "Channel not in Stasis application")
            chans.append(ch)
        for ch in chans:
            if ch.bridge_id == bridge_id:
                continue
            self._leave_bridge(ch)
            if bridge.app is None:
                # Asterisk subscribes an application to a bridge when its channel enters.
                bridge.app = ch.subscribed_app
            bridge.channels.append(ch.id)
            ch.bridge_id = bridge_id
            ch.record.bridges.append(bridge_id)
            self._note(ch, f"entered {bridge.bridge_type} bridge {bridge_id}")
            if bridge.bridge_type == "mixing":
                for other_id in bridge.channels:
                    other = self.channels[other_id]
                    if other_id != ch.id:
                        if other_id not in ch.record.bridged_with:
                            ch.record.bridged_with.append(other_id)
                        if ch.id not in other.record.bridged_with:
                            other.record.bridged_with.append(ch.id)
                            self._touch(other_id)
            self._emit_for(
                ch,
                {
                    "type": "ChannelEnteredBridge",
                    "bridge": bridge.snapshot(),
                    "channel": ch.snapshot(),
                },
            )
        self._changed()

    def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        self._bridge(bridge_id)
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SwitchError(400, "Channel not found")
        if ch.bridge_id != bridge_id:
            raise SwitchError(422, "Channel not in this bridge")
        self._leave_bridge(ch)
        self._changed()

    def _leave_bridge(self, ch: FakeChannel) -> None:
        if ch.bridge_id is None:
            return
        bridge = self.bridges.get(ch.bridge_id)
        ch.bridge_id = None
        if bridge is None:
            return
        bridge.channels.remove(ch.id)
        self._note(ch, f"left bridge {bridge.id}")
        self._emit_for(
            ch,
            {"type": "ChannelLeftBridge", "bridge": bridge.snapshot(), "channel": ch.snapshot()},
        )

    def destroy_bridge(self, bridge_id: str) -> None:
        bridge = self._bridge(bridge_id)
        for cid in list(bridge.channels):
            self._leave_bridge(self.channels[cid])
        del self.bridges[bridge_id]
        self._emit(bridge.app, {"type": "BridgeDestroyed", "bridge": bridge.snapshot()})
        self._changed()


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


def _cause_text(cause: int) -> str:
    for code, text in HANGUP_REASONS.values():
        if code == cause:
            return text
    return NORMAL_CLEARING[1] if cause == NORMAL_CLEARING[0] else "Unknown"
