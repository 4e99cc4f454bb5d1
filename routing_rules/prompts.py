"""The prompt ids a rule set may name: the recordings ship one file per id and language."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from recordings.manifest import load_manifest

FIXED_PROMPT_IDS: frozenset[str] = frozenset(
    {
        "greeting",
        "language-offer",
        "menu-intro",
        "menu-for",
        "menu-press",
        "menu-agent",
        "transferring",
        "please-hold",
        "whisper-intro",
        "whisper-resident",
        "whisper-exchange",
        "whisper-language-en",
        "whisper-language-fr",
        "whisper-accept",
        "after-hours",
        "emergency-911",
        "invalid",
        "no-input",
        "transfer-failed",
        "goodbye",
        "override",
        *(f"digit-{d}" for d in range(10)),
        "status-offer",
        "key-star",
        "key-pound",
        "status-ask",
        "status-request",
        "status-open",
        "status-in-progress",
        "status-closed",
        "status-updated",
        "status-note-duplicate",
        "status-note-referred",
        "status-note-completed",
        "status-not-found",
        "status-unavailable",
        "status-no-number",
        "status-too-long",
        "status-agent-offer",
        *(f"month-{m}" for m in range(1, 13)),
    }
)


def name_prompt_id(municipality_id: str) -> str:
    """The prompt that says a municipality's name."""
    return f"name-{municipality_id}"


def known_prompt_ids(
    municipality_ids: Iterable[str], exchange_ids: Iterable[str]
) -> frozenset[str]:
    """Every prompt id that has a recording for the given geodata: the manifest's, and the
    names of the geodata's municipalities and exchanges."""
    return manifest_prompt_ids() | {
        *(name_prompt_id(m) for m in municipality_ids),
        *(f"exchange-{e}" for e in exchange_ids),
    }


def digit_prompts(digits: str) -> tuple[str, ...]:
    """Prompt ids that read a string of digits one by one (other characters are skipped)."""
    return tuple(f"digit-{d}" for d in digits if d.isdigit())


def option_prompts(
    lead: str, options: Iterable[tuple[str, str]], with_agent: bool
) -> tuple[str, ...]:
    """A menu's options: "<lead> <name>, press <digit>" for each ``(name prompt, digit)``,
    then the live agent's option when ``with_agent``."""
    ids: list[str] = []
    for name_prompt, digit in options:
        ids += [lead, name_prompt, "menu-press", *digit_prompts(digit)]
    if with_agent:
        ids.append("menu-agent")
    return tuple(ids)


@cache
def manifest_prompt_ids() -> frozenset[str]:
    """Every prompt id of the recordings manifest (each one rendered in every language)."""
    return load_manifest().ids
