"""What every admin route handler shares: the API's configuration on the application,
store work run in a thread with the store's refusals as JSON errors, the bearer check of
requests that change state, and the log line of every change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from ivr.admin.auth import check_bearer
from ivr.admin.errors import problem
from ivr.admin.service import AdminService, NothingActive
from ivr.controller.drain import DrainStatus
from ivr.logs import exception_fields
from routing_rules.storage.errors import ConflictError, StoreError, VersionNotFound
from routing_rules.validation import RuleSetInvalid

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Drainable(Protocol):
    """The drain of a controller (`ivr.controller.process.Controller`)."""

    def start_drain(self) -> object:
        """Start draining, once: a second call leaves the drain as it is."""
        ...

    def drain_status(self) -> DrainStatus: ...


@dataclass(frozen=True)
class AdminConfig:
    """What the admin API needs besides the controller state."""

    service: AdminService
    token: Callable[[], str | None]
    """The admin token, read on every state-changing request (None: changes are refused)."""
    drain: Drainable
    """The controller ``POST /api/drain`` drains (the process stays up once drained)."""


CONFIG_KEY = web.AppKey("ivr311_admin_config", AdminConfig)


def admin_config(request: web.Request) -> AdminConfig:
    return request.app[CONFIG_KEY]


async def run_store_work(request: web.Request, work: Callable[[AdminService], T]) -> T:
    """Run store work in a thread, turning store errors into JSON HTTP errors."""
    service = admin_config(request).service
    try:
        return await asyncio.to_thread(work, service)
    except VersionNotFound as exc:
        raise problem(web.HTTPNotFound, "not_found", str(exc)) from exc
    except ConflictError as exc:
        raise problem(
            web.HTTPConflict,
            "conflict",
            _conflict_message(exc),
            base_version=exc.base,
            active_version=exc.active,
        ) from exc
    except NothingActive as exc:
        raise problem(web.HTTPConflict, "nothing_active", str(exc)) from exc
    except RuleSetInvalid as exc:
        raise problem(
            web.HTTPUnprocessableEntity,
            "invalid_rules",
            f"the rule set has {len(exc.report.errors)} error(s); nothing changed",
            errors=[{"path": p.path, "message": p.message} for p in exc.report.errors],
        ) from exc
    except StoreError as exc:
        raise problem(web.HTTPConflict, "refused", str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        log.error("admin.store_failed", path=request.path, **exception_fields(exc))
        raise problem(
            web.HTTPServiceUnavailable,
            "store_unavailable",
            f"the rule store cannot be used right now ({type(exc).__name__}); try again",
        ) from exc


def _conflict_message(exc: ConflictError) -> str:
    if exc.active is None:
        again = (
            "merge your change into the active version (GET /api/rules) and send it again with "
            'its number as "base_version"'
        )
    else:
        again = (
            f"merge your change into version {exc.active} (GET /api/rules/{exc.active}) and "
            f'send it again with "base_version": {exc.active}'
        )
    return f"{exc.situation()}; {again}"


def log_change(request: web.Request, action: str, author: str, **details: object) -> None:
    log.info("admin.change", action=action, author=author, peer=request.remote, **details)


def authorized(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_bearer(request, admin_config(request).token)
        return await handler(request)

    guarded.__doc__ = handler.__doc__
    return guarded
