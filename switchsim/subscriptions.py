"""Applications subscribing to channels (``/applications/{app}/subscription``), as Asterisk 22
answers them (``res/ari/resource_applications.c``, ``res/res_stasis.c``).

A channel sends its events to the application of its Stasis() and to every application
subscribed to it. Asterisk counts an application's interest in a channel: entering Stasis adds
one and leaving drops it, each subscription adds one, so a channel subscribed to keeps sending
its events after StasisEnd (to the dialplan, say), until it is destroyed or unsubscribed. The
subscription belongs to the application, not to its socket: it outlives a disconnected
WebSocket (the events meanwhile are dropped).

Only ``channel:<id>`` sources are modelled; Asterisk's other schemes (``bridge:``,
``endpoint:``, ``deviceState:``) and a scheme with no id (every object of that kind) answer
501 here. Unsubscribing a channel only in the application's Stasis (not subscribed to) answers
422 here, where Asterisk would drop the Stasis interest.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from switchsim.asterisk import SimulatedAsterisk
from switchsim.objects import FakeChannel, SwitchError

_SCHEMES = ("channel:", "bridge:", "endpoint:", "deviceState:")
"""The event source schemes Asterisk knows (others: 400)."""


class ApplicationSubscriptions(SimulatedAsterisk):
    """``POST`` and ``DELETE /applications/{app}/subscription?eventSource=...``."""

    def subscribe(self, name: str, sources: Sequence[str]) -> dict[str, Any]:
        """Subscribe application ``name`` to each source; the application's JSON."""
        for ch in self._sources(name, sources, "Event source does not exist"):
            ch.subscribers.append(name)
            self._note(ch, f"subscribed {name}")
        self._changed()
        return self.application(name)

    def unsubscribe(self, name: str, sources: Sequence[str]) -> dict[str, Any]:
        """Drop one subscription of application ``name`` to each source."""
        for ch in self._sources(name, sources, "Event source was not subscribed to"):
            if name not in ch.subscribers:
                raise SwitchError(422, "Event source was not subscribed to")
            ch.subscribers.remove(name)
            self._note(ch, f"unsubscribed {name}")
        self._changed()
        return self.application(name)

    def _sources(self, name: str, sources: Sequence[str], missing: str) -> Iterator[FakeChannel]:
        """The channels ``sources`` name, one at a time, checked in Asterisk's order: the
        parameter, the application, then each source's scheme and object; the first bad one
        answers the error, and those before it stay done, as in Asterisk."""
        if not sources:
            raise SwitchError(400, "Missing parameter eventSource")
        if name not in self.apps:
            raise SwitchError(404, "Application not found")
        for uri in sources:
            scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
            if scheme is None:
                raise SwitchError(400, "Invalid event source URI scheme")
            ident = uri.removeprefix(scheme)
            if scheme != "channel:" or not ident:
                raise SwitchError(501, f"event source {uri!r} is not modelled")
            ch = self.channels.get(ident)
            if ch is None:
                raise SwitchError(422, missing)
            yield ch
