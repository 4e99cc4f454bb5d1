"""The dialplan examples of the README, as the tests that check them read them."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
AGI_EXAMPLE = "**AGI for dialplan-only sites.**"
FASTAGI_EXAMPLE = "**FastAGI for dialplan-only sites.**"


def readme_dialplan(heading: str) -> list[str]:
    """The lines of the first code block after ``heading`` in the README."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    start = section.index("```\n") + 4
    return section[start : section.index("\n```", start)].splitlines()
