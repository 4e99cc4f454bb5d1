"""The admin page end to end in headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from admin_testing import TOKEN, StaticState, admin_app, serve_in_thread
from chromium import CHROMIUM, CHROMIUM_ARGS, CSP_VIOLATIONS_SCRIPT, non_background_share
from report_testing import random_calls

from ivr.admin import AdminService
from routing_rules.geoview import GeoLookup
from routing_rules.storage.call_records import CallRecordStore
from routing_rules.storage.store import RuleStore

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

playwright_sync = pytest.importorskip("playwright.sync_api")
Page = playwright_sync.Page


@pytest.fixture
def page_url(tmp_path: Path, geo: GeoLookup, durham_text: str) -> Iterator[tuple[str, RuleStore]]:
    store = RuleStore.open(f"sqlite:///{tmp_path / 'rules.db'}")
    store.apply(durham_text, author="seed", comment="demo", base_version=None, geo=geo)
    state = StaticState(
        calls=[
            {"call_id": "call-7", "state": "menu", "caller": "905683-1a2b3c", "age_s": 4.2},
            {
                "call_id": "call-8",
                "state": "transferring.hold",
                "carried_by": "dialplan",
                "caller": "905623-4d5e6f",
                "age_s": 30.0,
            },
        ]
    )
    app = admin_app(state, AdminService(store=store, geo=lambda: geo), lambda: TOKEN)
    try:
        with serve_in_thread(app) as base_url:
            yield base_url, store
    finally:
        store.close()


@pytest.fixture
def browser_page(page_url: tuple[str, RuleStore]) -> Iterator[Page]:
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        # Every Content-Security-Policy violation of the page (a blocked inline style, say).
        context.add_init_script(CSP_VIOLATIONS_SCRIPT)
        page = context.new_page()
        outside: list[str] = []
        base_url = page_url[0]
        page.on(
            "request",
            lambda request: (
                outside.append(request.url) if not request.url.startswith(base_url) else None
            ),
        )
        page.goto(base_url + "/")
        page.wait_for_selector("body[data-ready='true']", timeout=30_000)
        yield page
        assert outside == [], "the page fetched something from outside the controller"
        assert page.evaluate("window.cspViolations") == [], "the page breaks its own CSP"
        browser.close()


def test_the_page_is_served_under_a_content_security_policy(
    page_url: tuple[str, RuleStore],
) -> None:
    """No inline script or style, nothing from elsewhere, and no other site may frame it."""
    with urllib.request.urlopen(page_url[0] + "/") as response:
        headers = response.headers
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["Content-Security-Policy"].split(";")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_the_map_draws_and_a_click_shows_municipality_and_route(browser_page: Page) -> None:
    page = browser_page
    map_box = page.locator("#map svg")
    shot = map_box.screenshot()
    assert non_background_share(shot) > 0.3, "the map area is (almost) blank"
    assert page.locator("#map path.municipality").count() >= 8

    whitby = page.locator("#map path.municipality[data-id='whitby']")
    box = whitby.bounding_box()
    target = page.evaluate(
        """() => {
            const path = document.querySelector("#map path.municipality[data-id='whitby']");
            const svg = path.ownerSVGElement;
            const length = path.getTotalLength();
            for (let i = 0; i < 400; i++) {
              const bb = path.getBBox();
              const p = svg.createSVGPoint();
              p.x = bb.x + bb.width * ((i * 37) % 100) / 100;
              p.y = bb.y + bb.height * ((i * 61) % 100) / 100;
              if (path.isPointInFill(p)) {
                const s = p.matrixTransform(svg.getScreenCTM());
                return {x: s.x, y: s.y, length};
              }
            }
            return null;
        }"""
    )
    assert box is not None and target is not None
    page.mouse.click(target["x"], target["y"])
    result = page.locator("#locate-result")
    result.locator(".outcome").wait_for(timeout=15_000)
    assert result.get_attribute("data-municipality") == "whitby"
    assert "Whitby" in result.inner_text()
    assert page.locator("#click-marker").count() == 1


def test_simulate_form_shows_the_trace(browser_page: Page) -> None:
    page = browser_page
    page.fill("#sim-from", "anonymous")
    page.fill("#sim-at", "2026-11-23T12:00")
    page.click("#simulate-form button[type=submit]")
    trace = page.locator("#simulate-result ol.trace li")
    trace.first.wait_for(timeout=15_000)
    assert trace.count() >= 2
    assert page.locator("#simulate-result .outcome").inner_text()


def test_override_switch_diff_and_rollback(
    browser_page: Page, page_url: tuple[str, RuleStore]
) -> None:
    page = browser_page
    store = page_url[1]
    page.fill("#author", "duty manager")
    page.dispatch_event("#author", "change")
    page.fill("#token", TOKEN)
    page.fill("#override-reason", "ice storm")
    page.fill("#override-expires", "2099-01-01T08:00")
    page.click("#override-on")
    page.locator("#override-state.override-on").wait_for(timeout=15_000)
    assert "ice storm" in page.inner_text("#override-state")
    assert store.active_version() == 2
    assert store.get(2).author == "duty manager"

    page.click("#diff-form button[type=submit]")
    page.locator("#diff .add").first.wait_for(timeout=15_000)
    assert "active: true" in page.inner_text("#diff")

    page.once("dialog", lambda dialog: dialog.accept("storm warning withdrawn"))
    page.click("#versions tr[data-version='1'] button.activate")
    page.locator("#versions tr[data-version='1'] td:first-child", has_text="●").wait_for(
        timeout=15_000
    )
    assert store.active_version() == 1
    assert store.activations()[-1].comment == "storm warning withdrawn"
    # the page reloads the versions and the override state one after the other
    page.locator("#override-state", has_text="Off").wait_for(timeout=15_000)


def test_live_calls_are_listed(browser_page: Page) -> None:
    page = browser_page
    live = page.inner_text("#live-calls")
    assert "call-7" in live and "transferring.hold (dialplan)" in live


def test_the_reports_view_shows_the_shared_exchanges_first(
    browser_page: Page, page_url: tuple[str, RuleStore]
) -> None:
    calls = random_calls(seed=5, count=400, first=date(2026, 10, 1), days=30)
    CallRecordStore(page_url[1]).write(calls)
    page = browser_page
    page.fill("#report-from", "2026-10-01")
    page.fill("#report-to", "2026-10-30")
    page.click("#report-form button[type=submit]")
    rows = page.locator("#report-overlap tbody tr")
    rows.first.wait_for(timeout=15_000)
    assert rows.count() == 2
    assert "oshawa" in rows.first.inner_text()
    section = page.locator("#reports-section")
    assert section.locator("table").first.get_attribute("id") == "report-overlap"
    summary = page.inner_text("#report-summary")
    assert f"Calls offered\t{len(calls)}" in summary
    assert page.locator("#report-transfers tbody tr").count() >= 3
    assert page.get_attribute("#report-html", "href") == (
        "/api/report?format=html&from=2026-10-01&to=2026-10-30&by=day"
    )
    assert non_background_share(section.screenshot()) > 0.05
