"""Refusals of bad geodata: every problem names the file, the feature and what is wrong."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_GEODATA_BYTES = 512 * 1024 * 1024
"""The largest geodata file read. Detailed boundaries of a whole province are tens of MB; this
bound only keeps a wrong path (a device, a disk image) from filling the memory."""

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""What an id of a municipality or exchange looks like, here and in the routing rules that name
them: lower-case letters, digits and single hyphens."""
ID_RULE = "lower-case letters, digits and single hyphens"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    feature: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.feature}: {self.problem}"


class GeoDataError(ValueError):
    """The input data was refused; ``problems`` lists every reason found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def report_lines(self) -> list[str]:
        """The refusal as the commands print it: a heading, then one problem a line."""
        return ["geodata refused:", *(f"  {problem}" for problem in self.problems)]


def read_geodata_text(path: Path, *, encoding: str = "utf-8") -> str:
    """A geodata file's text, or :class:`GeoDataError` naming the file and what is wrong."""
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_GEODATA_BYTES + 1)
    except FileNotFoundError:
        raise GeoDataError([Problem(file, "-", "file not found")]) from None
    except OSError as exc:
        raise GeoDataError([Problem(file, "-", f"cannot be read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_GEODATA_BYTES:
        raise GeoDataError([Problem(file, "-", f"larger than {MAX_GEODATA_BYTES} bytes")])
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise GeoDataError([Problem(file, "-", f"not UTF-8 text: {exc}")]) from None
