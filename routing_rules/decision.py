"""The decision engine's vocabulary: the facts of one call and the next step to carry out.

These types are the contract between the rules engine (``routing_rules.engine.decide``), the
call controller and the simulator; this module holds types only. They are plain frozen
dataclasses and enums so a decision can be logged, compared and serialised without knowing
anything about how it was reached. Fields may be added, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from routing_rules.schema import Open311


@dataclass(frozen=True, slots=True)
class PromptRef:
    """One recorded prompt, heard in ``language``; an id with a media scheme (``digits:1234``,
    ``number:5``) is Asterisk's own say media, said in ``language``."""

    id: str
    language: str


Prompts = tuple[PromptRef, ...]


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything the engine may know about one call at one moment.

    ``digits`` holds one entry per answered menu prompt, in order; ``""`` is no input (timeout)
    and invalid entries count as attempts. A ``"0"`` pressed during the greeting is recorded by
    the controller as the first entry with ``greeting_done`` set.
    """

    dialled: str
    calling: str | None
    at: datetime
    location: tuple[float, float] | None = None
    language: str = "en"
    greeting_done: bool = False
    digits: tuple[str, ...] = ()
    status: StatusResult | None = None
    """How the service-request status check the caller asked for ended; after it, the next
    ``digits`` entry is the caller's answer to the offer of an agent."""


class TraceStage(StrEnum):
    """Which part of the decision a trace step belongs to, in the engine's order."""

    TIME = "time"
    LANGUAGE = "language"
    DIALLED = "dialled"
    GREETING = "greeting"
    HOST_HOURS = "host-hours"
    AFTER_HOURS = "after-hours"
    LOCATION = "location"
    EXCHANGE = "exchange"
    NUMBER = "number"
    AGENT = "agent"
    RESIDENCE = "residence"
    MENU = "menu"
    ROUTE = "route"
    DESTINATION_HOURS = "destination-hours"
    TRANSFER = "transfer"
    STATUS = "status"
    WEBSITE = "website"


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a decision's reasoning, for people: what was looked at (``evidence``),
    which rule applied (a path into the rule set, or a description) and the result.

    Programs read the decision's typed fields (``Decision.evidence``, ``after_hours``, the
    step), never these texts, which may be reworded."""

    stage: TraceStage
    evidence: str
    rule: str
    result: str


class Evidence(StrEnum):
    """What settled where a call goes (the ``evidence`` of decision records and metrics)."""

    LOCATION = "location"
    """A location delivered with the call, inside a municipality of the rule set."""
    EXCHANGE = "exchange"
    """The calling number's exchange, routed without asking."""
    CALLER_CHOICE = "caller_choice"
    """The caller's key: a menu option, or 0 for a live agent."""
    DEFAULT = "default"
    """A default: a menu without a choice, an unknown caller, or after hours."""


class StatusResult(StrEnum):
    """How a service-request status check ended (``ivr311_status_checks_total{result}``)."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    """The server does not know the request number."""
    SLOW = "slow"
    """No answer within the rules' ``budget_ms``."""
    DOWN = "down"
    """No connection, or an HTTP error status."""
    BAD_ANSWER = "bad_answer"
    """An answer that is not GeoReport v2 JSON (wrong content type, malformed, too large)."""
    NO_NUMBER = "no_number"
    """The caller keyed no request number."""
    TOO_LONG = "too_long"
    """The caller keyed more digits than a request number has."""
    NO_CHOICE = "no_choice"
    """The caller chose no server at the status menu (no key, a key that is no option, or 0
    for an agent)."""


class RequestStatus(StrEnum):
    """What a caller hears of a found request: GeoReport v2 ``status``, refined by a coded
    ``status_notes`` that says the work has started."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PlayGreeting:
    """Play the greeting; any key skips it, ``agent_key`` asks for a live agent."""

    prompts: Prompts
    language_keys: Mapping[str, str] = field(default_factory=dict)
    agent_key: str = "0"
    status_key: str | None = None
    """The key that asks for a service request's status, when the call offers it."""
    language_follow_up: Mapping[str, Prompts] = field(default_factory=dict)
    """What a caller who switches language with a key hears next in that language (the offer
    of the status check, made in the greeting's language too); the greeting's keys hold."""


@dataclass(frozen=True, slots=True)
class MenuOption:
    """One choice of a municipality menu."""

    digit: str
    municipality_id: str
    label: str


@dataclass(frozen=True, slots=True)
class OfferMenu:
    """Ask the caller where they live; the answer arrives as the next ``digits`` entry."""

    menu_id: str
    prompts: Prompts
    options: tuple[MenuOption, ...]
    timeout_s: float
    attempt: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """One link of a fallback chain: whom to dial and what they hear before accepting."""

    destination_id: str
    label: str
    dial: str
    ring_timeout_s: float
    whisper: Prompts
    whisper_text: str
    accept_key: str | None
    caller_id: str


TransferKind = Literal["municipality", "agent", "after_hours"]
NumberKind = Literal["311", "ten-digit", "toll-free"]
WebsitePoint = Literal["after_hours", "before_transfer", "transfer_failed"]
"""Where in a call a website may be read out: in the message while the host is closed (the
emergency override included), before a transfer while it is open, and in the message that
names the number to call when every link of a transfer failed."""
WEBSITE_POINTS: tuple[WebsitePoint, ...] = ("after_hours", "before_transfer", "transfer_failed")


@dataclass(frozen=True, slots=True)
class WebsiteHeard:
    """A municipality's (or the host's) website, read out at one point of the call; its
    prompt is also among the prompts of the step that plays it."""

    owner_id: str
    point: WebsitePoint
    prompt: PromptRef
    rule: str
    """Where the rules ask for it (a path into the rule set)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Warm-transfer the caller down ``chain``; when every link fails, play ``final_message``.

    The chain may be empty, in which case only ``final_message`` is played.
    """

    kind: TransferKind
    municipality_id: str | None
    announce: Prompts
    chain: tuple[TransferTarget, ...]
    final_message: Prompts


@dataclass(frozen=True, slots=True)
class PlayMessage:
    """Play a message, then (by default) hang up."""

    prompts: Prompts
    then_hangup: bool = True


MAX_REQUEST_DIGITS = 20
"""The longest request number a caller may key; more is taken as a mistake."""


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """Ask for a request number (digits, then #), look its status up on ``owner_id``'s Open311
    server (the call flow does the look-up), speak the answer and offer an agent. The result
    comes back as ``CallContext.status``, the answer to the offer as the next digit.

    ``service`` None: the caller chose no server at the status menu; nothing is asked, the
    caller hears ``unchosen`` and the result is `StatusResult.NO_CHOICE` (no answer follows)."""

    owner_id: str | None
    service: Open311 | None
    prompt_language: str
    digit_timeout_s: float
    max_digits: int = MAX_REQUEST_DIGITS
    unchosen: Prompts = ()


Step = PlayGreeting | OfferMenu | Transfer | PlayMessage | CheckStatus


@dataclass(frozen=True, slots=True)
class Decision:
    """The next step of a call and the reasons for it.

    ``evidence`` is what settled the route, ``None`` while none is settled (the greeting, a
    menu); ``after_hours`` is true when the host's schedule is closed and the after-hours (or
    emergency override) path applies; ``number_kind`` is the kind of host number dialled
    (``311``, ``ten-digit``, ``toll-free``), ``None`` when the dialled number is not one."""

    step: Step
    trace: tuple[TraceStep, ...]
    evidence: Evidence | None = None
    after_hours: bool = False
    number_kind: NumberKind | None = None
    websites: tuple[WebsiteHeard, ...] = ()
    """The websites the step reads out, in the order they are heard."""
