"""The rule-set file format: pydantic models of the YAML a telecom admin keeps in git.

The models check everything that can be checked field by field (number formats, time zones,
period order). Checks that need the whole file or the geodata (ids that must exist, fallback
chains, prompts) live in :mod:`routing_rules.validation`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    model_validator,
)

from geo.errors import ID_PATTERN, ID_RULE
from routing_rules.decision import NumberKind, WebsitePoint

FORMAT_VERSION: Literal[1] = 1
HOST_AGENTS = "host-agents"
"""Route keyword: the host's own live agents (``host.agents``)."""
MESSAGE_LINK = "message"
"""Fallback keyword: the chain ends with the message naming the number to call."""

_SIP_URI = re.compile(r"^sips?:[^@\s]+@[A-Za-z0-9.\-\[\]:]+(?:;[^\s]*)?$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TOLL_FREE_NPAS = frozenset({"800", "833", "844", "855", "866", "877", "888"})
_PROVINCES = frozenset(
    {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
)


def _slug(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise ValueError(f"not an id ({ID_RULE})")
    return value


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("not an E.164 number (like +19055550100)")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not an E.164 number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid telephone number")
    return value


def _dial(value: str) -> str:
    if value.startswith(("sip:", "sips:")):
        if not _SIP_URI.match(value):
            raise ValueError("not a SIP URI (like sip:agents@pbx.example.org)")
        return value
    return _e164(value)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone (like America/Toronto)") from exc
    return value


def _key(value: str) -> str:
    if value not in {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"}:
        raise ValueError("not a telephone key (0-9, * or #)")
    return value


def _digit_key(value: object) -> object:
    """YAML reads an unquoted 9 as a number; a key is still meant."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    return value


def _clock_time(value: object) -> object:
    """Refuse numbers: YAML 1.1 reads an unquoted 16:30 as the integer 990 (base 60)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("quote times, like '16:30' (YAML reads an unquoted 16:30 as a number)")
    return value


def _yaml_boolean(value: object) -> object:
    """YAML 1.1 reads an unquoted ON (Ontario) as the boolean true."""
    if isinstance(value, bool):
        raise ValueError("quote province codes, like 'ON' (YAML reads an unquoted ON as true)")
    return value


def _province(value: str) -> str:
    if value not in _PROVINCES:
        raise ValueError("not a Canadian province or territory code (like ON)")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
E164 = Annotated[str, AfterValidator(_e164)]
Dial = Annotated[str, AfterValidator(_dial)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
Key = Annotated[str, BeforeValidator(_digit_key), AfterValidator(_key)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Province = Annotated[str, BeforeValidator(_yaml_boolean), AfterValidator(_province)]
PromptId = Slug
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Model(BaseModel):
    """Strict, immutable base: unknown keys are errors, so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Model):
    en: str = Field(min_length=1)
    fr: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


class HostNumber(Model):
    """One number that reaches the host's 311 service."""

    kind: NumberKind
    number: str

    @model_validator(mode="after")
    def _number_matches_kind(self) -> HostNumber:
        if self.kind == "311":
            if self.number != "311":
                raise ValueError("number: a 311 entry's number is 311")
            return self
        _e164(self.number)
        toll_free = self.number.startswith("+1") and self.number[2:5] in _TOLL_FREE_NPAS
        if self.kind == "toll-free" and not toll_free:
            raise ValueError("number: not a NANP toll-free number (800, 833, ... 888)")
        if self.kind == "ten-digit" and (not self.number.startswith("+1") or toll_free):
            raise ValueError("number: not a NANP geographic number")
        return self


class Destination(Model):
    """A contact centre (or line) calls can be transferred to.

    ``fallback`` lists the destination ids tried, in order, when this one is busy, does not
    answer, rejects the call or is closed; the keyword ``message`` may end the list: the caller
    then hears which number to call. The last link must be a destination open 24/7 or
    ``message``, so no chain ends nowhere.
    """

    id: Slug
    label: str = Field(min_length=1)
    dial: Dial
    schedule: str
    fallback: list[str] = Field(default_factory=list)
    ring_timeout_s: float | None = Field(default=None, ge=5, le=120)
    callback_number: E164 | None = None


class Host(Model):
    """The 311 centre this deployment is."""

    id: Slug
    name: Names
    prompt: PromptId | None = None
    province: Province
    numbers: list[HostNumber] = Field(min_length=1)
    schedule: str
    agents: str
    destinations: list[Destination] = Field(min_length=1)
    website: HttpUrl | None = None
    website_heard_at: list[WebsitePoint] = Field(default_factory=list)
    """Where callers hear ``website`` read out (the ``website-<id>`` prompt) when their
    municipality's is not."""
    open311: Open311 | None = None

    @property
    def prompt_id(self) -> str:
        return self.prompt or f"host-{self.id}"

    def number_of_kind(self, kind: str) -> str | None:
        return next((n.number for n in self.numbers if n.kind == kind), None)

    def callback_number(self, dest: Destination) -> str:
        """The number a caller is told to call when every link of ``dest``'s chain failed."""
        if dest.callback_number is not None:
            return dest.callback_number
        if dest.dial.startswith("+"):
            return dest.dial
        return self.number_of_kind("ten-digit") or ""


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Open311(Model):
    """A municipality's Open311 GeoReport v2 server, for callers asking about a request.

    The API key never sits in the rules: ``api_key_env`` names an environment variable, or
    ``api_key_file`` a file (a mounted secret), that holds it. ``budget_ms`` bounds one look-up;
    past it the caller hears that the system is slow and is offered an agent. ``key`` is the
    telephone key that offers the status check in the greeting or a menu.
    """

    base_url: HttpUrl
    jurisdiction_id: str | None = Field(default=None, min_length=1, max_length=100)
    api_key_env: str | None = None
    api_key_file: Path | None = None
    budget_ms: int = Field(default=1500, ge=100, le=5000)
    key: Key

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_rules(cls, data: object) -> object:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "api_key: never put an API key in the rules; name an environment variable "
                "(api_key_env) or a secret file (api_key_file)"
            )
        return data

    @model_validator(mode="after")
    def _one_key_source(self) -> Open311:
        if self.api_key_env is not None and self.api_key_file is not None:
            raise ValueError("api_key_file: give api_key_env or api_key_file, not both")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise ValueError(
                "api_key_env: not an environment variable name (like PICKERING_311_KEY)"
            )
        if self.api_key_file is not None and not self.api_key_file.is_absolute():
            raise ValueError("api_key_file: give an absolute path")
        return self


class Municipality(Model):
    """A municipality callers may live in, from the geodata."""

    id: Slug
    name: Names
    role: Literal["member", "neighbour"]
    participation_model: int | None = Field(default=None, ge=1, le=9)
    website: HttpUrl | None = None
    website_heard_at: list[WebsitePoint] = Field(default_factory=list)
    """Where callers hear ``website`` read out (the ``website-<id>`` prompt); a point the
    municipality does not name falls back to the host's."""
    destinations: list[Destination] = Field(default_factory=list)
    open311: Open311 | None = None


class OverlapPolicy(Model):
    """How an exchange shared by several municipalities is resolved."""

    dominance_share: float = Field(gt=0.5, le=1.0)
    min_share: float = Field(default=0.02, ge=0.0, lt=0.5)
    max_menu_options: int = Field(default=4, ge=2, le=9)
    default_choice: Literal["host-agents", "largest-share"] = "host-agents"
    unknown_caller: Literal["member-menu", "host-agents"] = "host-agents"
    menu_timeout_s: float = Field(default=6.0, ge=1, le=30)
    max_attempts: int = Field(default=3, ge=1, le=5)


class WeeklyPeriod(Model):
    """Open from ``open`` to ``close`` (local wall-clock time) on each of ``days``."""

    days: list[Weekday] = Field(min_length=1)
    open: ClockTime
    close: ClockTime

    @model_validator(mode="after")
    def _open_before_close(self) -> WeeklyPeriod:
        if self.open >= self.close:
            raise ValueError("close: must be later than open")
        return self


class HolidayCalendar(Model):
    """Statutory holidays from the ``holidays`` package; the schedule is closed on them."""

    country: Literal["CA"] = "CA"
    subdivision: Province


class NamedDate(Model):
    date: date
    name: str = Field(min_length=1)


class ExceptionalPeriod(Model):
    """A one-off period that overrides holidays and weekly hours (closed or open).

    Naive times are local to the schedule's time zone.
    """

    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    open: bool = False

    @model_validator(mode="after")
    def _start_before_end(self) -> ExceptionalPeriod:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("end: give both start and end with a UTC offset, or neither")
        if self.start >= self.end:
            raise ValueError("end: must be later than start")
        return self


class EmergencyOverride(Model):
    """Closes the schedule (or sends calls to ``destination``) until it is turned off or expires."""

    active: bool = False
    reason: str = ""
    expires: datetime | None = None
    destination: str | None = None

    @model_validator(mode="after")
    def _active_needs_reason(self) -> EmergencyOverride:
        if self.active and not self.reason.strip():
            raise ValueError("reason: an active override says why")
        return self


class Schedule(Model):
    """When a destination is open, in its own time zone."""

    timezone: TimeZoneName
    always_open: bool = False
    weekly: list[WeeklyPeriod] = Field(default_factory=list)
    holidays: HolidayCalendar | None = None
    extra_closures: list[NamedDate] = Field(default_factory=list)
    exceptions: list[ExceptionalPeriod] = Field(default_factory=list)
    emergency_override: EmergencyOverride | None = None

    @model_validator(mode="after")
    def _hours_given(self) -> Schedule:
        if self.always_open and self.weekly:
            raise ValueError("weekly: an always-open schedule has no weekly periods")
        if not self.always_open and not self.weekly:
            raise ValueError("weekly: give weekly periods, or always_open: true")
        return self


class AfterHours(Model):
    """What callers get when the host is closed."""

    destination: str | None = None
    message: list[PromptId] = Field(default_factory=lambda: ["after-hours", "emergency-911"])


WhisperPart = Literal["host", "municipality", "exchange", "language", "accept"]
WHISPER_PARTS: tuple[WhisperPart, ...] = ("host", "municipality", "exchange", "language", "accept")


class TransferSettings(Model):
    """How warm transfers are made."""

    ring_timeout_s: float = Field(default=20, ge=5, le=120)
    whisper: list[WhisperPart] = Field(default_factory=lambda: list(WHISPER_PARTS))
    whisper_language: Literal["en", "fr"] = "en"
    require_accept: bool = True
    accept_key: Key = "1"
    caller_id: Literal["caller", "host"] | E164 = "caller"


class Language(Model):
    code: Literal["en", "fr"]
    prompt_language: Literal["en", "fr_CA"]
    key: Key | None = None


class Languages(Model):
    default: Literal["en", "fr"] = "en"
    offered: list[Language] = Field(min_length=1)


class PromptSet(Model):
    """Prompt ids (see the recordings manifest) played at each point of a call."""

    greeting: list[PromptId] = Field(default_factory=lambda: ["greeting"])
    language_offer: list[PromptId] = Field(default_factory=lambda: ["language-offer"])
    menu_intro: list[PromptId] = Field(default_factory=lambda: ["menu-intro"])
    transferring: list[PromptId] = Field(default_factory=lambda: ["transferring", "please-hold"])
    transfer_failed: list[PromptId] = Field(default_factory=lambda: ["transfer-failed"])
    override: list[PromptId] = Field(default_factory=lambda: ["override", "emergency-911"])
    invalid: list[PromptId] = Field(default_factory=lambda: ["invalid"])
    no_input: list[PromptId] = Field(default_factory=lambda: ["no-input"])
    goodbye: list[PromptId] = Field(default_factory=lambda: ["goodbye"])


class Arrangement(Model):
    """An agreement that routes a municipality's residents somewhere for a period.

    ``route`` is a destination id or ``host-agents``. Both dates are inclusive and read in the
    host's time zone; an agreement revoked with notice gets its ``effective_until`` date.
    """

    id: Slug
    municipality: str
    route: str
    participation_model: int | None = Field(default=None, ge=1, le=9)
    effective_from: date
    effective_until: date | None = None
    notice_days: int | None = Field(default=None, ge=0)
    note: str = ""

    @model_validator(mode="after")
    def _from_before_until(self) -> Arrangement:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError("effective_until: earlier than effective_from")
        return self

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )


class RuleSet(Model):
    """One complete rule set: everything needed to route every call of one 311 host."""

    format: Literal[1] = FORMAT_VERSION
    demo: bool = False
    host: Host
    exchanges: list[str] = Field(min_length=1)
    municipalities: list[Municipality] = Field(min_length=1)
    overlap_policy: OverlapPolicy
    schedules: dict[str, Schedule] = Field(min_length=1)
    after_hours: AfterHours = Field(default_factory=AfterHours)
    transfer: TransferSettings = Field(default_factory=TransferSettings)
    languages: Languages
    prompts: PromptSet = Field(default_factory=PromptSet)
    arrangements: list[Arrangement] = Field(default_factory=list)

    def status_checks(self) -> dict[str, Open311]:
        """Who offers a service-request status check: municipality ids, and the host's id."""
        offers = {m.id: m.open311 for m in self.municipalities if m.open311 is not None}
        if self.host.open311 is not None:
            offers[self.host.id] = self.host.open311
        return offers

    def websites_heard(self) -> dict[str, tuple[WebsitePoint, ...]]:
        """Whose website callers hear, and where: municipality ids, and the host's id."""
        heard = {m.id: tuple(m.website_heard_at) for m in self.municipalities if m.website_heard_at}
        if self.host.website_heard_at:
            heard[self.host.id] = tuple(self.host.website_heard_at)
        return heard
