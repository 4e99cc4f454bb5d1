"""Reading and checking a rule-set file: every problem at once, each with the path to its field.

Checking happens in two passes over one reading of the file. The first reads the YAML
(:mod:`routing_rules.rulefile`: bounded, duplicate keys refused) and the schema (field formats,
ranges, time zones, numbers). The second checks the file as a whole against the geodata (ids,
fallback chains, periods against each other, prompts: :mod:`routing_rules.crosschecks`). The
second pass runs even when the first found errors: it then checks whatever parts of the file
passed the schema (:mod:`routing_rules.salvage`), so one run lists every problem. A field that
failed the schema is reported once, by the schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from pydantic import ValidationError

from routing_rules.crosschecks import CrossChecker
from routing_rules.geoview import GeoLookup
from routing_rules.rulefile import Problem, format_path, load_yaml, shown
from routing_rules.salvage import RuleParts
from routing_rules.schema import RuleSet

__all__ = ["Problem", "RuleSetInvalid", "ValidationReport", "check_text", "validate_text"]

_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of checking one file; ``rules`` is set only when there is no error."""

    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()
    rules: RuleSet | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


class RuleSetInvalid(Exception):
    """A rule set failed validation; ``report`` lists every problem."""

    def __init__(self, report: ValidationReport, source: str = "rule set") -> None:
        self.report = report
        self.source = source
        lines = "\n".join(f"  {p}" for p in report.errors)
        super().__init__(f"{source}: {len(report.errors)} error(s)\n{lines}")


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        message = str(err["msg"]).removeprefix("Value error, ")
        prefixed = _FIELD_PREFIX.match(message)
        if prefixed:
            loc.append(prefixed.group(1))
            message = prefixed.group(2)
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif not prefixed and isinstance(err.get("input"), _ECHOED):
            message = f"{message} (got {shown(err['input'])})"
        problems.append(Problem(format_path(loc), message))
    return problems


_ECHOED = (str, int, float, bool, date, time)
"""Values a schema error echoes back; a mapping or list is named by its path instead."""
_NOT_A_MAPPING = Problem("", "a rule set is a YAML mapping (host:, municipalities:, ...)")


@dataclass(frozen=True, slots=True)
class _Reading:
    """A rule-set text read as far as it goes: its data, its rules if the schema passed."""

    data: dict[object, object] | None
    rules: RuleSet | None
    problems: list[Problem]


def _read(text: str) -> _Reading:
    data, problems, usable = load_yaml(text)
    if not usable:
        return _Reading(None, None, problems)
    if not isinstance(data, dict):
        return _Reading(None, None, [_NOT_A_MAPPING])
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        return _Reading(data, None, [*problems, *_pydantic_problems(exc)])
    return _Reading(data, rules, problems)


def parse_rules(text: str) -> tuple[RuleSet | None, list[Problem]]:
    """Parse YAML text into a :class:`RuleSet` (YAML and schema checks only)."""
    reading = _read(text)
    return (None if reading.problems else reading.rules), reading.problems


def validate_text(text: str, geo: GeoLookup, *, now: datetime | None = None) -> ValidationReport:
    """Check a rule-set file completely; never raises for bad input.

    With ``now``, an emergency override that is on but expired before ``now`` is an error too:
    it would do nothing, so the file almost certainly says something its author did not mean.
    """
    reading = _read(text)
    if reading.data is None:
        return ValidationReport(errors=tuple(reading.problems))
    parts = (
        RuleParts.of(reading.rules)
        if reading.rules is not None
        else RuleParts.salvage(reading.data)
    )
    checker = CrossChecker(parts, geo, now=now)
    checker.run()
    reported = [p.path for p in reading.problems if p.path]
    errors = (*reading.problems, *(p for p in checker.errors if not _within(p.path, reported)))
    warnings = tuple(p for p in checker.warnings if not _within(p.path, reported))
    if errors:
        return ValidationReport(errors=errors, warnings=warnings)
    return ValidationReport(errors=(), warnings=warnings, rules=reading.rules)


def _within(path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or a field inside one."""
    return any(
        path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")) for prefix in prefixes
    )


def check_text(
    text: str, geo: GeoLookup, source: str = "rule set", *, now: datetime | None = None
) -> ValidationReport:
    """Like :func:`validate_text`, but raise :class:`RuleSetInvalid` on any error."""
    report = validate_text(text, geo, now=now)
    if not report.ok:
        raise RuleSetInvalid(report, source)
    return report
