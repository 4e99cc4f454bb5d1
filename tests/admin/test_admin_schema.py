"""schemathesis against the served OpenAPI document: no request the document allows (or almost
allows) makes the server fail, and every answer matches what the document promises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from admin_testing import AUTH, StaticState, admin_app, serve_in_thread
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ivr.admin import AdminService
from routing_rules.geoview import GeoLookup
from routing_rules.storage.store import RuleStore


@pytest.fixture(scope="module")
def admin_base_url(
    tmp_path_factory: pytest.TempPathFactory, geo: GeoLookup, durham_text: str
) -> Iterator[str]:
    database = tmp_path_factory.mktemp("schema") / "rules.db"
    store = RuleStore.open(f"sqlite:///{database}")
    store.apply(durham_text, author="seed", comment="demo", base_version=None, geo=geo)
    app = admin_app(StaticState(), AdminService(store=store, geo=lambda: geo), lambda: AUTH_TOKEN)
    try:
        with serve_in_thread(app) as base_url:
            yield base_url
    finally:
        store.close()


AUTH_TOKEN = AUTH["Authorization"].removeprefix("Bearer ")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_admin_api_keeps_its_openapi_promises(admin_base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{admin_base_url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=admin_base_url, headers=AUTH, checks=CHECKS)

        conforms()
