"""The prompt manifest (``recordings/manifest.yaml``): ids, texts per language, where they play."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PACKAGE_DIR / "manifest.yaml"
SOUNDS_DIR = PACKAGE_DIR / "sounds"
MOH_DIR = PACKAGE_DIR / "moh"
LANGUAGES: tuple[str, ...] = ("en", "fr_CA")
SOUND_SUBDIR = "ivr311"
"""Prompts live under ``<sounds>/<language>/ivr311/``; Asterisk plays them by `sound_name`."""
SAMPLE_RATE = 8000


class ManifestError(ValueError):
    """The manifest is malformed: a missing language, a duplicate id, a bad field."""


@dataclass(frozen=True, slots=True)
class Voice:
    """The espeak-ng voice and speed (words per minute) one language is rendered with."""

    name: str
    speed: int


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    used_in: str
    text: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Manifest:
    voices: Mapping[str, Voice]
    prompts: Mapping[str, Prompt]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.prompts)


def sound_path(prompt_id: str, language: str, sounds_dir: Path = SOUNDS_DIR) -> Path:
    """Where the recording of one prompt in one language is kept."""
    return sounds_dir / language / SOUND_SUBDIR / f"{prompt_id}.wav"


def sound_name(prompt_id: str, language: str | None = None) -> str:
    """The name Asterisk plays a prompt by. Asterisk looks a sound up as ``<lang>/<name>`` in
    the language of the play (or channel) first, then as ``<name>`` (``fileexists_core`` in
    its ``main/file.c``): ``ivr311/<id>`` plays the prompt in the language of the play,
    ``<language>/ivr311/<id>`` in ``language`` whatever the play's is."""
    name = f"{SOUND_SUBDIR}/{prompt_id}"
    return name if language is None else f"{language}/{name}"


def parse_sound_name(name: str) -> tuple[str | None, str] | None:
    """The (language or None, prompt id) of a `sound_name`; None for any other sound."""
    language, _, rest = name.rpartition(f"{SOUND_SUBDIR}/")
    if not rest or "/" in rest or language not in ("", *(f"{lang}/" for lang in LANGUAGES)):
        return None
    return (language.removesuffix("/") or None), rest


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: expected non-empty text")
    return value.strip()


def parse_manifest(data: object) -> Manifest:
    """Check the manifest's structure: every prompt has a text in every language, ids unique."""
    if not isinstance(data, dict):
        raise ManifestError("the manifest is a mapping with 'languages' and 'prompts'")
    raw_voices = data.get("languages")
    if not isinstance(raw_voices, dict) or set(raw_voices) != set(LANGUAGES):
        raise ManifestError(f"languages: expected exactly {', '.join(LANGUAGES)}")
    voices: dict[str, Voice] = {}
    for lang, spec in raw_voices.items():
        if not isinstance(spec, dict):
            raise ManifestError(f"languages.{lang}: expected voice and speed")
        voices[lang] = Voice(
            _text(spec.get("voice"), f"languages.{lang}.voice"), int(spec["speed"])
        )
    raw_prompts = data.get("prompts")
    if not isinstance(raw_prompts, list):
        raise ManifestError("prompts: expected a list")
    prompts: dict[str, Prompt] = {}
    for n, entry in enumerate(raw_prompts):
        where = f"prompts[{n}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: expected a mapping")
        prompt_id = _text(entry.get("id"), f"{where}.id")
        if prompt_id in prompts:
            raise ManifestError(f"{where}.id: {prompt_id} appears twice")
        texts = entry.get("text")
        if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
            raise ManifestError(f"{where}.text: expected a text for each of {', '.join(LANGUAGES)}")
        prompts[prompt_id] = Prompt(
            id=prompt_id,
            used_in=_text(entry.get("used_in"), f"{where}.used_in"),
            text=MappingProxyType(
                {lang: _text(texts[lang], f"{where}.text.{lang}") for lang in LANGUAGES}
            ),
        )
    return Manifest(voices=MappingProxyType(voices), prompts=MappingProxyType(prompts))


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    return parse_manifest(yaml.safe_load(path.read_text(encoding="utf-8")))
