"""Originated legs on the simulated Asterisk: dialled, ringing, then answering into the
application or failing with their Q.850 cause, as the scripted `Outcome` for the endpoint
says, on the asyncio clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from switchsim.applications import StasisApplications
from switchsim.hangups import Hangups
from switchsim.objects import FakeChannel, SwitchError, ari_timestamp
from switchsim.records import FAILURE_CAUSES, NORMAL_CLEARING, ChannelRecord, Outcome


def _parse_caller_id(raw: str) -> tuple[str, str]:
    """``"Name" <+1905...>`` or a bare number -> (name, number)."""
    if "<" in raw and raw.endswith(">"):
        name, _, number = raw[:-1].partition("<")
        return name.strip().strip('"'), number.strip()
    return "", raw.strip()


class Originate(Hangups, StasisApplications):
    """``POST /channels/{id}`` (originate) and what becomes of each leg."""

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
