"""What a call uses from the controller (`CallEnvironment`) and the settings it reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from dialplan.names import FALLBACK_CONTEXT
from ivr.ari.client import AriClient
from ivr.call.observers import Observer, standard_observers
from ivr.call.timers import LoopScheduler, Scheduler
from ivr.metrics import Metrics
from ivr.open311.client import Lookup
from routing_rules.decision import CallContext, Decision, StatusResult
from routing_rules.schema import Open311
from routing_rules.snapshot import RuleSnapshot

if TYPE_CHECKING:
    from ivr.call.machine import Call

Decide = Callable[[RuleSnapshot, CallContext], Decision]
StatusLookup = Callable[[str, Open311, str], Awaitable[Lookup]]
"""``(owner_id, service, request_id)``: the status of a request on ``owner_id``'s server."""


async def _no_status_server(_owner: str, _service: Open311, _request_id: str) -> Lookup:
    return Lookup(StatusResult.DOWN)


async def _written(_call_id: str) -> bool:
    return True


@dataclass(frozen=True)
class CallSettings:
    """The settings a call needs (a subset of `ivr.settings.Settings`)."""

    dial_endpoint: str = "contact-centres"
    fallback_context: str = FALLBACK_CONTEXT
    accept_timeout_s: float = 15.0
    ring_grace_s: float = 5.0
    hold_music_class: str = "default"
    transfers: Literal["dialplan", "application"] = "dialplan"
    """Who carries out a transfer: the generated dialplan (`ivr.call.handover`) or the call
    over ARI (`ivr.call.transfer`)."""


@dataclass
class CallEnvironment:
    """What a call uses from the controller."""

    ari: AriClient
    metrics: Metrics
    settings: CallSettings
    decide: Decide
    register_leg: Callable[[str, str], None]
    """``(leg_channel_id, call_id)``: route the leg's events to this call."""
    on_end: Callable[[Call], None]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    redact: Callable[[str | None], str] = field(default=lambda _number: "redacted")
    """The calling number as logs may carry it (never the full number)."""
    scheduler: Scheduler = field(default_factory=LoopScheduler)
    """Runs the calls' timers: the event loop, or a virtual clock in tests."""
    observers: Sequence[Observer] = ()
    """Told of every transition, in order; empty: `standard_observers` of ``metrics``."""

    state_written: Callable[[str], Awaitable[bool]] = _written
    """``(call_id)``: wait until the call's saved state (`ivr.call.persistor`) is written;
    whether it was (False: the latest write failed).
    Asterisk runs a channel's variable write only between playbacks (a write sent while a
    prompt plays waits for its end), so a call waits for it before playing to its caller."""

    status_lookup: StatusLookup = _no_status_server
    """Asks a municipality's Open311 server (`ivr.open311.lookups`); without one, every
    server counts as down and the caller is routed to a person."""

    def __post_init__(self) -> None:
        if not self.observers:
            self.observers = standard_observers(self.metrics)
