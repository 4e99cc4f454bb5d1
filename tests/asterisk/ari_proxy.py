"""A TCP proxy between a controller and Asterisk's HTTP port that can cut the ARI event socket.

The controller is given the proxy's URL as its ARI URL, so its REST requests and its event
WebSocket both pass through here. `AriProxy.cut_event_sockets` aborts the event socket's TCP
connection (as a network fault or a stateful firewall would), and while `AriProxy.holding`
holds, every new event socket is aborted as soon as it asks, so the controller stays cut off
from its events while its REST requests still reach Asterisk. The proxy runs its own event loop
in a thread, so a synchronous test drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

EVENTS_PATH = b"/ari/events"
T = TypeVar("T")


@dataclass(eq=False)
class _Link:
    """One proxied connection: the client's side and Asterisk's side."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    events: bool

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


class AriProxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``target_port``, byte for byte."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.event_sockets_opened = 0
        """Event sockets that reached Asterisk through the proxy."""
        self.event_sockets_refused = 0
        """Event sockets aborted on arrival while held."""
        self._links: set[_Link] = set()
        self._held = False
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AriProxy:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def close(self) -> None:
        """Stop listening, abort every connection and stop the proxy's thread."""
        if self._server is not None:
            self._call(self._shut())
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut_event_sockets(self) -> int:
        """Abort the event sockets open now (REST connections stay); how many were cut."""
        return self._call(self._abort_events())

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Cut the event sockets, and abort every new one while the block runs."""
        self._held = True
        try:
            self.cut_event_sockets()
            yield
        finally:
            self._held = False

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _abort_events(self) -> int:
        cut = [link for link in self._links if link.events]
        for link in cut:
            link.abort()
        return len(cut)

    async def _shut(self) -> None:
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.abort()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.transport.abort()
            return
        events = EVENTS_PATH in first
        if events and self._held:
            self.event_sockets_refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer, events)
        self._links.add(link)
        if events:
            self.event_sockets_opened += 1
        up_writer.write(first)
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._links.discard(link)
            link.abort()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then end the other direction too."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        sink.transport.abort()
