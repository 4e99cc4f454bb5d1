"""Headless Chromium for the page tests (Debian's package, driven by Playwright)."""

from __future__ import annotations

import io
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
CSP_VIOLATIONS_SCRIPT = (
    "window.cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', (e) =>"
    " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)
"""An init script collecting every Content-Security-Policy violation of the page."""


def non_background_share(png: bytes) -> float:
    """Share of pixels in a screenshot that differ from its most common colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    most = max(count for count, _ in colours)
    return 1 - most / (image.width * image.height)
