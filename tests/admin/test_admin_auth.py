"""Who may change things: the bearer token, compared in constant time, read on every request."""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_testing import AUTH, TOKEN, StaticState, admin_app
from aiohttp.test_utils import TestClient, TestServer

import ivr.admin.auth
from ivr.admin import AdminService
from ivr.settings import load_settings

CHANGE = {"author": "mallory", "comment": "try to roll back"}


async def test_reads_need_no_token(client: TestClient) -> None:
    response = await client.get("/api/rules")
    assert response.status == 200
    assert (await response.json())["active_version"] == 1


async def test_a_change_without_a_token_is_401_and_changes_nothing(
    client: TestClient,
    durham_text: str,
) -> None:
    body = {"content": durham_text + "\n# edit\n", "base_version": 1, **CHANGE}
    response = await client.post("/api/rules", json=body)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"] == "unauthorized"
    assert (await (await client.get("/api/rules")).json())["versions"][0]["version"] == 1


@pytest.mark.parametrize(
    "header", ["Bearer wrong-token", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
)
async def test_a_wrong_token_is_403(client: TestClient, header: str) -> None:
    response = await client.post(
        "/api/override",
        json={"active": False, "reason": "x", "author": "mallory"},
        headers={"Authorization": header},
    )
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", TOKEN])
async def test_a_malformed_authorization_header_is_401(
    client: TestClient,
    header: str,
) -> None:
    response = await client.post(
        "/api/rules/1/activate", json=CHANGE, headers={"Authorization": header}
    )
    assert response.status == 401


async def test_the_token_is_compared_in_constant_time(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = ivr.admin.auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(ivr.admin.auth.hmac, "compare_digest", spy)
    response = await client.post("/api/rules/1/activate", json=CHANGE, headers=AUTH)
    assert compared == [(TOKEN.encode(), TOKEN.encode())]
    assert response.status == 409  # authorised; version 1 is already active


async def test_without_a_configured_token_every_change_is_refused(
    state: StaticState, service: AdminService
) -> None:
    app = admin_app(state, service, lambda: None)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post("/api/rules/1/activate", json=CHANGE, headers=AUTH)
        assert response.status == 503
        assert "IVR311_ADMIN_TOKEN" in (await response.json())["message"]


async def test_the_token_file_is_read_on_every_request(
    state: StaticState, service: AdminService, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("first-token\n", encoding="utf-8")
    settings = load_settings(environ={"IVR311_ADMIN_TOKEN_FILE": str(token_file)})
    app = admin_app(state, service, settings.admin_token_value)
    override_off = {"active": False, "reason": "check", "author": "ops"}
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        first = {"Authorization": "Bearer first-token"}
        assert (await client.post("/api/override", json=override_off, headers=first)).status != 403
        token_file.write_text("rotated-token\n", encoding="utf-8")
        assert (await client.post("/api/override", json=override_off, headers=first)).status == 403
        rotated = {"Authorization": "Bearer rotated-token"}
        assert (
            await client.post("/api/override", json=override_off, headers=rotated)
        ).status != 403
