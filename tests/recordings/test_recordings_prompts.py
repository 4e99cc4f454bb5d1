"""Every prompt a call can hear exists in every language as an 8 kHz mono 16-bit WAV."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from dialplan.options import DialplanOptions
from dialplan.prompts import playable_prompt_ids
from dialplan.render import render_dialplan
from recordings.manifest import (
    LANGUAGES,
    SAMPLE_RATE,
    ManifestError,
    load_manifest,
    parse_manifest,
    sound_path,
)
from routing_rules.prompts import FIXED_PROMPT_IDS, name_prompt_id
from routing_rules.snapshot import DEMO_NAMES, RuleSnapshot, default_geo, load_snapshot

_PLAYBACK = re.compile(r"Playback\(([^)]*)\)")


@pytest.fixture(scope="module", params=DEMO_NAMES)
def snapshot(request: pytest.FixtureRequest) -> RuleSnapshot:
    return load_snapshot(str(request.param))


def fallback_prompt_ids(snapshot: RuleSnapshot) -> set[str]:
    """The prompts the rendered fallback dialplan plays (read from its Playback() calls; the
    transfer context plays what each call's plan names, a variable here: the controller's
    prompts)."""
    text = render_dialplan(snapshot, DialplanOptions())
    ids: set[str] = set()
    for match in _PLAYBACK.finditer(text):
        if not match.group(1).startswith("${"):
            ids |= {item.removeprefix("ivr311/") for item in match.group(1).split("&")}
    return ids


def wav_facts(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        frames = wav.getnframes()
        rate = wav.getframerate()
        return rate, wav.getnchannels(), wav.getsampwidth(), frames / rate


def test_the_manifest_names_every_prompt_of_the_contract() -> None:
    geo = default_geo()
    wanted = FIXED_PROMPT_IDS | {
        *(name_prompt_id(m) for m in geo.municipalities),
        *(f"exchange-{e}" for e in geo.exchanges),
    }
    assert wanted - load_manifest().ids == set()


def test_every_prompt_a_call_can_hear_is_in_the_manifest(snapshot: RuleSnapshot) -> None:
    playable = playable_prompt_ids(snapshot) | fallback_prompt_ids(snapshot)
    assert playable - load_manifest().ids == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_playable_prompt_is_a_telephone_wav(snapshot: RuleSnapshot, language: str) -> None:
    playable = playable_prompt_ids(snapshot) | fallback_prompt_ids(snapshot)
    problems: list[str] = []
    for prompt_id in sorted(playable):
        path = sound_path(prompt_id, language)
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        rate, channels, width, seconds = wav_facts(path)
        if (rate, channels, width) != (SAMPLE_RATE, 1, 2) or seconds <= 0.1:
            problems.append(
                f"{path}: {rate} Hz, {channels} channel(s), {width * 8} bit, {seconds}s"
            )
    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_manifest_prompt_is_rendered(language: str) -> None:
    missing = [p for p in sorted(load_manifest().ids) if not sound_path(p, language).is_file()]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_greeting_is_brief(language: str) -> None:
    _, _, _, seconds = wav_facts(sound_path("greeting", language))
    assert seconds < 10


def test_the_greeting_says_how_to_skip_it_and_reach_an_agent() -> None:
    greeting = load_manifest().prompts["greeting"].text
    assert "any key" in greeting["en"] and "0" in greeting["en"]
    assert "une touche" in greeting["fr_CA"] and "0" in greeting["fr_CA"]


def test_a_prompt_without_its_french_text_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"prompts\[0\]\.text"):
        parse_manifest(
            {
                "languages": {
                    "en": {"voice": "en-us", "speed": 160},
                    "fr_CA": {"voice": "fr", "speed": 160},
                },
                "prompts": [{"id": "goodbye", "used_in": "end", "text": {"en": "Goodbye."}}],
            }
        )


def test_a_duplicate_prompt_id_is_refused() -> None:
    entry = {"id": "goodbye", "used_in": "end", "text": {"en": "Goodbye.", "fr_CA": "Au revoir."}}
    with pytest.raises(ManifestError, match="twice"):
        parse_manifest(
            {
                "languages": {
                    "en": {"voice": "en-us", "speed": 160},
                    "fr_CA": {"voice": "fr", "speed": 160},
                },
                "prompts": [entry, entry],
            }
        )
