"""Request bodies of the admin API (pydantic models; their JSON schemas go into OpenAPI)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from routing_rules.decision import StatusResult


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _audit_text(value: str) -> str:
    """Who and why end up in YAML and in the history: one printable line of text."""
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise ValueError("control and unassigned characters are not allowed")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class Audit(_Body):
    """Who makes a change and why; both are stored in the rule history."""

    author: str = Field(min_length=1, max_length=200, description="who makes the change")
    comment: str = Field(min_length=1, max_length=2000, description="why")

    @field_validator("author", "comment")
    @classmethod
    def _printable(cls, value: str) -> str:
        return _audit_text(value)


class ValidateBody(_Body):
    content: str = Field(description="rule-set YAML")


class ApplyBody(Audit):
    content: str = Field(description="rule-set YAML")
    base_version: int | None = Field(
        default=None,
        ge=1,
        description="the version this text was edited from (null only for an empty store); "
        "if another version became active since, the change is refused with 409",
    )


class ActivateBody(Audit):
    base_version: int | None = Field(
        default=None, ge=1, description="refuse (409) unless this version is still active"
    )


class OverrideBody(_Body):
    active: bool = Field(description="true switches the override on, false clears it")
    reason: str = Field(
        min_length=1, max_length=500, description="why (stored in the rules and the history)"
    )
    author: str = Field(min_length=1, max_length=200, description="who makes the change")
    expires: datetime | None = Field(
        default=None,
        description="when the override ends by itself (ISO 8601 with offset); required to "
        "switch it on",
    )
    schedule: str | None = Field(
        default=None, max_length=200, description="schedule name (default: the host's)"
    )
    destination: str | None = Field(
        default=None, max_length=200, description="send calls here instead of the closed message"
    )
    base_version: int | None = Field(
        default=None, ge=1, description="refuse (409) unless this version is still active"
    )

    @field_validator("author", "reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        return _audit_text(value)


class SimulateBody(_Body):
    """The same inputs as ``ivr311 simulate``."""

    from_: str | None = Field(
        default=None, alias="from", max_length=100, description="calling number as delivered"
    )
    to: str = Field(default="311", min_length=1, max_length=40, description="number dialled")
    at: str | None = Field(
        default=None,
        max_length=64,
        description="ISO time; without an offset it is the host's local time (default now)",
    )
    press: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="menu keys in order; 't' or '' is no input (like --press 7,t,2)",
    )
    greeting_key: str | None = Field(
        default=None, max_length=1, description="key pressed during the greeting"
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    language: str = Field(default="en", pattern="^(en|fr)$")
    version: int | None = Field(
        default=None, ge=1, description="stored version to simulate (default: the active one)"
    )
    status: StatusResult | None = Field(
        default=None,
        description="with greeting_key the status key: how the status check ended "
        "(like --status); press then answers the offer of an agent",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
