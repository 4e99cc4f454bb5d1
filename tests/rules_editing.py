"""Edits of a demo rule set's YAML text that several test folders make."""

from __future__ import annotations


def with_own_open311(
    text: str, municipality: str, base_url: str, *, key: str = "*", budget_ms: int | None = None
) -> str:
    """The Durham rules ``text`` where ``municipality`` runs its own Open311 server at
    ``base_url``, asked for when ``key`` is pressed during the greeting (within ``budget_ms``
    when given)."""
    site = f"    website: https://www.{municipality}.ca/\n"
    assert site in text, site
    budget = "" if budget_ms is None else f", budget_ms: {budget_ms}"
    server = f'    open311: {{base_url: "{base_url}", key: "{key}"{budget}}}\n'
    return text.replace(site, site + server, 1)
