"""Playbacks on the simulated Asterisk: the channel's queue of them, each media URI played for
its duration (or failing as a missing sound file), and the events about them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from switchsim.channels import ChannelOperations
from switchsim.dialplan_continue import DialplanContinue
from switchsim.objects import FakeChannel, FakePlayback, SwitchError
from switchsim.records import PlayRecord

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


class Playbacks(DialplanContinue, ChannelOperations):
    """``/channels/{id}/play`` and ``/playbacks`` requests, and the playbacks as they run."""

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
