"""Render the manifest's prompts to 8 kHz mono 16-bit WAV files with espeak-ng and sox.

``python -m recordings.render`` (``make prompts``) writes
``recordings/sounds/<language>/ivr311/<id>.wav`` for every prompt and language, and the hold
music ``recordings/moh/ivr311-hold.wav``. The files are committed, so a machine that plays them
needs no text-to-speech engine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from recordings.manifest import (
    LANGUAGES,
    MOH_DIR,
    SAMPLE_RATE,
    SOUNDS_DIR,
    Voice,
    load_manifest,
    sound_path,
)

HOLD_MUSIC = "ivr311-hold.wav"
_HOLD_NOTES_HZ = (261.63, 329.63, 392.00, 329.63, 293.66, 349.23, 440.00, 349.23)
_HOLD_REPEATS = 4


class RenderError(RuntimeError):
    """A tool is missing or failed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RenderError(f"{name} is not installed (Debian: apt-get install espeak-ng sox)")
    return path


def _run(args: Sequence[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(f"{Path(args[0]).name} failed: {done.stderr.strip()}")


def _telephone_format(source: Path, target: Path) -> list[str]:
    """sox arguments: resample to 8 kHz mono 16-bit and normalise to -3 dBFS."""
    return [
        _tool("sox"),
        str(source),
        "-r",
        str(SAMPLE_RATE),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        str(target),
        "gain",
        "-n",
        "-3",
    ]


def render_prompt(text: str, voice: Voice, target: Path, work_dir: Path) -> None:
    """Speak ``text`` with ``voice`` into ``target`` (created with its directories)."""
    raw = work_dir / "speech.wav"
    _run([_tool("espeak-ng"), "-v", voice.name, "-s", str(voice.speed), "-w", str(raw), text])
    target.parent.mkdir(parents=True, exist_ok=True)
    _run(_telephone_format(raw, target))


def render_hold_music(target: Path, work_dir: Path) -> None:
    """A quiet, slow arpeggio for callers on hold (no licensed music is shipped)."""
    notes: list[str] = []
    for n, hz in enumerate(_HOLD_NOTES_HZ):
        note = work_dir / f"note{n}.wav"
        _run(
            [
                _tool("sox"),
                "-n",
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                str(note),
                "synth",
                "0.9",
                "sine",
                f"{hz}",
                "fade",
                "q",
                "0.08",
                "0.9",
                "0.3",
                "vol",
                "0.25",
            ]
        )
        notes.append(str(note))
    target.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool("sox"), *(notes * _HOLD_REPEATS), str(target)])


def render_all(
    sounds_dir: Path = SOUNDS_DIR,
    moh_dir: Path = MOH_DIR,
    *,
    languages: Sequence[str] = LANGUAGES,
    only: frozenset[str] | None = None,
) -> int:
    """Render the chosen prompts (all by default); returns the number of files written."""
    manifest = load_manifest()
    written = 0
    with tempfile.TemporaryDirectory(prefix="ivr311-prompts-") as tmp:
        work_dir = Path(tmp)
        for prompt in manifest.prompts.values():
            if only is not None and prompt.id not in only:
                continue
            for lang in languages:
                target = sound_path(prompt.id, lang, sounds_dir)
                render_prompt(prompt.text[lang], manifest.voices[lang], target, work_dir)
                written += 1
        if only is None:
            render_hold_music(moh_dir / HOLD_MUSIC, work_dir)
            written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recordings.render", description="Render the prompts with espeak-ng."
    )
    parser.add_argument("--sounds-dir", type=Path, default=SOUNDS_DIR, help="output directory")
    parser.add_argument("--moh-dir", type=Path, default=MOH_DIR, help="hold music directory")
    parser.add_argument(
        "--language", action="append", choices=LANGUAGES, help="only this language (repeatable)"
    )
    parser.add_argument("--only", action="append", metavar="ID", help="only this prompt id")
    args = parser.parse_args(argv)
    try:
        written = render_all(
            args.sounds_dir,
            args.moh_dir,
            languages=tuple(args.language or LANGUAGES),
            only=frozenset(args.only) if args.only else None,
        )
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written} files under {args.sounds_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
