"""Refusals of bad geodata: every problem names the file, the feature and what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
