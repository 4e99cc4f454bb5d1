"""The admin HTTP API and page of a running controller.

`extend_app` is the controller HTTP server's extension hook (``ivr.controller.http.make_app(state,
[extend_app])``); `add_admin_routes` mounts the API on any aiohttp application given an
`AdminConfig` (tests use it directly).
"""

from __future__ import annotations

from aiohttp import web

from ivr.admin.api import add_admin_routes
from ivr.admin.collector import RulesStateCollector
from ivr.admin.handling import AdminConfig
from ivr.admin.service import AdminService
from ivr.controller.http import ControllerState
from routing_rules.snapshot import default_geo

__all__ = ["AdminConfig", "AdminService", "add_admin_routes", "extend_app"]


def extend_app(app: web.Application, state: ControllerState) -> None:
    """Mount the admin API for the controller ``state`` (an ``ivr.controller.process.Controller``).

    It shares the controller's rule store and geodata, reads the admin token from its settings
    on every change, and adds the rules-derived gauges to its metrics registry.
    """
    from ivr.controller.process import Controller

    if not isinstance(state, Controller) or state.rules.store is None:
        raise TypeError("the admin API needs a controller with a rule store")
    rules = state.rules
    store = rules.store
    assert store is not None
    settings = state.settings
    service = AdminService(
        store=store, geo=lambda: rules.current.geo if rules.current is not None else default_geo()
    )
    add_admin_routes(
        app, AdminConfig(service=service, token=settings.admin_token_value, drain=state)
    )
    state.metrics.registry.register(RulesStateCollector(lambda: rules.current))
