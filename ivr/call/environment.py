"""What a call uses from the controller (`CallEnvironment`) and the settings it reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dialplan.names import FALLBACK_CONTEXT
from ivr.ari.client import AriClient
from ivr.call.observers import Observer, standard_observers
from ivr.call.timers import LoopScheduler, Scheduler
from ivr.metrics import Metrics
from routing_rules.decision import CallContext, Decision
from routing_rules.snapshot import RuleSnapshot

if TYPE_CHECKING:
    from ivr.call.machine import Call

Decide = Callable[[RuleSnapshot, CallContext], Decision]


@dataclass(frozen=True)
class CallSettings:
    """The settings a call needs (a subset of `ivr.settings.Settings`)."""

    dial_endpoint: str = "contact-centres"
    fallback_context: str = FALLBACK_CONTEXT
    accept_timeout_s: float = 15.0
    ring_grace_s: float = 5.0
    hold_music_class: str = "default"


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

    def __post_init__(self) -> None:
        if not self.observers:
            self.observers = standard_observers(self.metrics)
