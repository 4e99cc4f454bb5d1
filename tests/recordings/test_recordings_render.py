"""`python -m recordings.render` turns a manifest text into a telephone-format WAV."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from recordings.manifest import SAMPLE_RATE, load_manifest, sound_path
from recordings.render import main

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed to render prompts",
)


@pytest.mark.parametrize("language", ["en", "fr_CA"])
def test_a_prompt_renders_to_8khz_mono_16bit(tmp_path: Path, language: str) -> None:
    assert main(["--sounds-dir", str(tmp_path), "--only", "goodbye", "--language", language]) == 0
    with wave.open(str(sound_path("goodbye", language, tmp_path)), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        assert wav.getnframes() > 0
    assert [p.name for p in (tmp_path / language / "ivr311").iterdir()] == ["goodbye.wav"]


def test_the_manifest_texts_are_what_the_contract_asks_for() -> None:
    prompts = load_manifest().prompts
    assert prompts["language-offer"].text["fr_CA"] == (
        "Pour le service en français, appuyez sur le 9."
    )
    assert "9 1 1" in prompts["emergency-911"].text["en"]
    assert "please call" in prompts["transfer-failed"].text["en"].lower()
