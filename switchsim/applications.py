"""Stasis applications on the simulated Asterisk: their event WebSockets connecting and going
away, their event filters, and what ``GET /applications/{name}`` says of them."""

from __future__ import annotations

from typing import Any

from switchsim.asterisk_state import AsteriskState
from switchsim.objects import AppState, EventSink, SwitchError


class StasisApplications(AsteriskState):
    """The applications ARI clients connect to, and what each is sent."""

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
