"""An Open311 GeoReport v2 client for one question: what is the status of request N?

``GET {base_url}/requests/{service_request_id}.json[?jurisdiction_id=..&api_key=..]`` answers a
JSON array holding the request (GeoReport v2, "GET Service Request"); a number the server does
not know is a 404, or an empty array. The whole look-up is bounded by the rules' ``budget_ms``
(an aiohttp timeout), so a slow server costs the caller at most that long. Every way it can go
wrong ends in a `StatusResult` the call speaks an answer for; nothing here raises.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import aiohttp
import structlog
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from routing_rules.decision import RequestStatus, StatusResult
from routing_rules.schema import Open311

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""A single request's JSON is a few hundred bytes; more is not an answer to read out."""
IN_PROGRESS_NOTES = frozenset(
    {"in_progress", "in progress", "in-progress", "assigned", "scheduled"}
)
"""Coded ``status_notes`` of an open request that mean the work has started."""


def _text_id(value: object) -> object:
    """Servers send the id as a string or a number; both name the same request."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ServiceRequest(BaseModel):
    """The fields of a GeoReport v2 service request a caller hears (others are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service_request_id: Annotated[str, BeforeValidator(_text_id)]
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    requested_datetime: datetime | None = None
    updated_datetime: datetime | None = None

    @property
    def spoken_status(self) -> RequestStatus:
        if self.status == "closed":
            return RequestStatus.CLOSED
        notes = (self.status_notes or "").strip().lower()
        return RequestStatus.IN_PROGRESS if notes in IN_PROGRESS_NOTES else RequestStatus.OPEN


_ANSWER = TypeAdapter(list[ServiceRequest])


@dataclass(frozen=True, slots=True)
class Lookup:
    """The outcome of one status look-up; ``request`` is set when ``result`` is found."""

    result: StatusResult
    request: ServiceRequest | None = None
    elapsed_ms: float = 0.0


def api_key(service: Open311, environ: dict[str, str] | None = None) -> str | None:
    """The API key the rules point at (environment variable or secret file), if any."""
    if service.api_key_env is not None:
        return (os.environ if environ is None else environ).get(service.api_key_env) or None
    if service.api_key_file is not None:
        try:
            return Path(service.api_key_file).read_text(encoding="utf-8").strip() or None
        except OSError:
            log.warning("open311.api_key_unreadable", path=str(service.api_key_file))
    return None


class GeoReportClient:
    """Looks up request statuses on one server, over a session the caller owns."""

    def __init__(self, session: aiohttp.ClientSession, service: Open311, key: str | None) -> None:
        self._session = session
        self._service = service
        self._url = str(service.base_url).rstrip("/")
        self._params = {
            name: value
            for name, value in (("jurisdiction_id", service.jurisdiction_id), ("api_key", key))
            if value is not None
        }

    async def status(self, request_id: str) -> Lookup:
        """The status of request ``request_id`` (digits the caller keyed)."""
        started = time.perf_counter()
        result, request = await self._ask(request_id)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("open311.lookup", result=str(result), elapsed_ms=round(elapsed, 1))
        return Lookup(result, request, elapsed)

    async def _ask(self, request_id: str) -> tuple[StatusResult, ServiceRequest | None]:
        timeout = aiohttp.ClientTimeout(total=self._service.budget_ms / 1000)
        url = f"{self._url}/requests/{request_id}.json"
        try:
            async with self._session.get(url, params=self._params, timeout=timeout) as resp:
                if resp.status == 404:
                    return StatusResult.NOT_FOUND, None
                if resp.status != 200:
                    return StatusResult.DOWN, None
                if resp.content_type != "application/json":
                    return StatusResult.BAD_ANSWER, None
                body = await resp.content.read(MAX_BODY_BYTES + 1)
        except TimeoutError:
            return StatusResult.SLOW, None
        except (aiohttp.ClientError, OSError):
            return StatusResult.DOWN, None
        if len(body) > MAX_BODY_BYTES:
            return StatusResult.BAD_ANSWER, None
        return _read_answer(body, request_id)


def _read_answer(body: bytes, request_id: str) -> tuple[StatusResult, ServiceRequest | None]:
    try:
        requests = _ANSWER.validate_python(json.loads(body))
    except (ValueError, ValidationError):
        return StatusResult.BAD_ANSWER, None
    match = next((r for r in requests if r.service_request_id == request_id), None)
    if match is None:
        return StatusResult.NOT_FOUND, None
    return StatusResult.FOUND, match
