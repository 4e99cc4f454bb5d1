"""A thin, typed client for Asterisk's REST Interface (ARI): REST calls and the event stream.

`AriClient` does the REST calls, `AriEventStream` keeps the event WebSocket connected and
yields typed events, and `CallDispatcher` runs each call's events in order while different
calls run concurrently.
"""

from ivr.ari.client import ApplicationState, AriClient
from ivr.ari.dispatcher import CallDispatcher
from ivr.ari.errors import AriError, AriUnavailableError
from ivr.ari.events import AriEvent, parse_event
from ivr.ari.stream import AriEventStream, Backoff

__all__ = [
    "ApplicationState",
    "AriClient",
    "AriError",
    "AriEvent",
    "AriEventStream",
    "AriUnavailableError",
    "Backoff",
    "CallDispatcher",
    "parse_event",
]
