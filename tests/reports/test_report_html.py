"""The HTML report as a clerk opens it: one file, in headless Chromium, with no request
anywhere, the shared exchanges' table and chart first, the other charts drawn."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS, CSP_VIOLATIONS_SCRIPT, non_background_share

from ivr311.cli import main
from routing_rules.storage.store import RuleStore

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

playwright_sync = pytest.importorskip("playwright.sync_api")
Page = playwright_sync.Page


@pytest.fixture(params=["sqlite"])
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rules.db'}"


@pytest.fixture
def html_file(filled_store: RuleStore, tmp_path: Path) -> Path:
    out = tmp_path / "council-report.html"
    argv = ["report", "--database", filled_store.url, "--from", "2026-10-01", "--to", "2026-12-14"]
    assert main([*argv, "--format", "html", "--out", str(out)]) == 0
    return out


@pytest.fixture
def opened(html_file: Path) -> Iterator[tuple[Page, list[str]]]:
    """The file in Chromium, and every URL it requested besides itself."""
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 1000})
            context.add_init_script(CSP_VIOLATIONS_SCRIPT)
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(html_file.as_uri())
            page.wait_for_load_state("load")
            yield page, [url for url in requested if url != html_file.as_uri()]
        finally:
            browser.close()


def test_the_file_needs_nothing_from_anywhere(
    html_file: Path, opened: tuple[Page, list[str]]
) -> None:
    page, requested = opened
    assert requested == [], "the report loads something besides itself"
    assert page.evaluate("window.cspViolations") == [], "the report breaks its own CSP"
    text = html_file.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org/", "")
    assert "https://" not in text.replace("https://json-schema", "")


def test_the_shared_exchanges_come_first_with_their_chart(opened: tuple[Page, list[str]]) -> None:
    page, _ = opened
    first = page.locator("section").first
    assert first.get_attribute("id") == "overlap"
    assert "oshawa" in first.inner_text() and "clarington" in first.inner_text()
    chart = page.locator("#chart-overlap svg")
    assert chart.bounding_box() is not None
    headings = page.locator("h2").all_inner_texts()
    assert headings[0] == "Shared exchanges: where callers chose to go"
    assert "Transfers per destination" in headings


def test_every_chart_is_drawn(opened: tuple[Page, list[str]]) -> None:
    page, _ = opened
    for key in ("overlap", "period", "hour", "service"):
        figure = page.locator(f"#chart-{key} svg")
        box = figure.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, key
        assert non_background_share(figure.screenshot()) > 0.03, f"the {key} chart is blank"
    shot = page.screenshot(full_page=True)
    assert non_background_share(shot) > 0.05, "the page is (almost) blank"
