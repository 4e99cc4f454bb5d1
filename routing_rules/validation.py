"""Reading and checking a rule-set file: every problem at once, each with the path to its field.

Checking happens in two passes. The first parses the YAML and the schema (field formats, ranges,
time zones, numbers): all its errors are reported together. When the file has the right shape,
the second pass checks the file as a whole against the geodata (ids, fallback chains, periods
against each other, prompts) and again reports everything it finds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import yaml
from pydantic import ValidationError

from routing_rules.geoview import GeoLookup
from routing_rules.prompts import RECORDED_HOSTS, known_prompt_ids
from routing_rules.schema import (
    HOST_AGENTS,
    MESSAGE_LINK,
    Arrangement,
    Destination,
    RuleSet,
    Schedule,
)

_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.DOTALL)
_FICTIONAL = re.compile(r"^\+1[2-9][0-9]{2}55501[0-9]{2}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning, located by the path of the field it concerns."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


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


def format_path(loc: Sequence[int | str]) -> str:
    """``("municipalities", 3, "destinations", 0)`` → ``municipalities[3].destinations[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


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
        problems.append(Problem(format_path(loc), message))
    return problems


def parse_rules(text: str) -> tuple[RuleSet | None, list[Problem]]:
    """Parse YAML text into a :class:`RuleSet` (schema checks only)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(where, f"not valid YAML: {problem}")]
    if not isinstance(data, dict):
        return None, [Problem("", "a rule set is a YAML mapping (host:, municipalities:, ...)")]
    try:
        return RuleSet.model_validate(data), []
    except ValidationError as exc:
        return None, _pydantic_problems(exc)


def validate_text(text: str, geo: GeoLookup) -> ValidationReport:
    """Check a rule-set file completely; never raises for bad input."""
    rules, problems = parse_rules(text)
    if rules is None:
        return ValidationReport(errors=tuple(problems))
    checker = _CrossChecker(rules, geo)
    checker.run()
    if checker.errors:
        return ValidationReport(errors=tuple(checker.errors), warnings=tuple(checker.warnings))
    return ValidationReport(errors=(), warnings=tuple(checker.warnings), rules=rules)


def check_text(text: str, geo: GeoLookup, source: str = "rule set") -> ValidationReport:
    """Like :func:`validate_text`, but raise :class:`RuleSetInvalid` on any error."""
    report = validate_text(text, geo)
    if not report.ok:
        raise RuleSetInvalid(report, source)
    return report


@dataclass
class _CrossChecker:
    rules: RuleSet
    geo: GeoLookup
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    destinations: dict[str, tuple[str, Destination]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def run(self) -> None:
        self._collect_destinations()
        self._check_host()
        self._check_exchanges()
        self._check_municipalities()
        for name, schedule in self.rules.schedules.items():
            self._check_schedule(f"schedules.{name}", schedule)
        self._check_unused_schedules()
        for path, dest in self.destinations.values():
            self._check_destination(path, dest)
        self._check_after_hours()
        self._check_arrangements()
        self._check_languages()
        self._check_prompts()
        self._check_policy()
        if self.rules.demo:
            self._check_fictional_numbers()

    def _all_destinations(self) -> Iterator[tuple[str, Destination]]:
        for i, dest in enumerate(self.rules.host.destinations):
            yield f"host.destinations[{i}]", dest
        for m, mun in enumerate(self.rules.municipalities):
            for i, dest in enumerate(mun.destinations):
                yield f"municipalities[{m}].destinations[{i}]", dest

    def _collect_destinations(self) -> None:
        for path, dest in self._all_destinations():
            if dest.id in self.destinations or dest.id in (HOST_AGENTS, MESSAGE_LINK):
                self.error(f"{path}.id", f"destination id {dest.id!r} is used twice or reserved")
                continue
            self.destinations[dest.id] = (path, dest)

    def _host_destination_ids(self) -> set[str]:
        return {d.id for d in self.rules.host.destinations}

    def _always_open(self, destination_id: str) -> bool:
        entry = self.destinations.get(destination_id)
        if entry is None:
            return False
        schedule = self.rules.schedules.get(entry[1].schedule)
        return schedule is not None and schedule.always_open

    def _check_host(self) -> None:
        host = self.rules.host
        if host.agents not in self._host_destination_ids():
            self.error("host.agents", f"{host.agents!r} is not one of host.destinations")
        if host.schedule not in self.rules.schedules:
            self.error("host.schedule", f"no schedule named {host.schedule!r}")
        kinds = [n.kind for n in host.numbers]
        for i, kind in enumerate(kinds):
            if kinds.index(kind) != i:
                self.warn(f"host.numbers[{i}]", f"a second {kind} number")
        if host.prompt is None and host.id not in RECORDED_HOSTS:
            self.warn("host.prompt", f"no recording ships for host-{host.id}; name a prompt")

    def _check_exchanges(self) -> None:
        coded = self.geo.npa_nxx_by_exchange()
        seen: set[str] = set()
        known = {m.id for m in self.rules.municipalities}
        min_share = self.rules.overlap_policy.min_share
        for i, exchange_id in enumerate(self.rules.exchanges):
            path = f"exchanges[{i}]"
            if exchange_id in seen:
                self.error(path, f"exchange {exchange_id!r} listed twice")
            seen.add(exchange_id)
            overlap = self.geo.exchanges.get(exchange_id)
            if overlap is None:
                if exchange_id in coded:
                    self.warn(
                        path,
                        f"exchange {exchange_id!r} has central-office codes but no polygon: "
                        "its callers take the unknown-caller path",
                    )
                else:
                    self.error(path, f"unknown exchange {exchange_id!r} (not in the geodata)")
                continue
            for share in overlap.municipalities:
                if share.share >= min_share and share.id not in known:
                    self.warn(
                        path,
                        f"{share.share:.0%} of {overlap.name} lies in {share.id}, which is not "
                        "in municipalities: its residents get the default choice",
                    )

    def _check_municipalities(self) -> None:
        seen: set[str] = set()
        for i, mun in enumerate(self.rules.municipalities):
            path = f"municipalities[{i}]"
            if mun.id in seen:
                self.error(f"{path}.id", f"municipality {mun.id!r} listed twice")
            seen.add(mun.id)
            if mun.id not in self.geo.municipalities:
                self.error(f"{path}.id", f"unknown municipality {mun.id!r} (not in the geodata)")
            if mun.role == "neighbour" and not mun.destinations:
                self.error(f"{path}.destinations", "a neighbour needs its contact centre")
        if not any(m.role == "member" for m in self.rules.municipalities):
            self.error("municipalities", "no member municipality")

    def _check_schedule(self, path: str, schedule: Schedule) -> None:
        by_day: dict[str, list[int]] = defaultdict(list)
        for i, period in enumerate(schedule.weekly):
            for day in period.days:
                for j in by_day[day]:
                    other = schedule.weekly[j]
                    if period.open < other.close and other.open < period.close:
                        self.error(f"{path}.weekly[{i}]", f"overlaps weekly[{j}] on {day}")
                by_day[day].append(i)
        self._check_exception_overlaps(path, schedule)
        dates = [c.date for c in schedule.extra_closures]
        for i, closure_day in enumerate(dates):
            if dates.index(closure_day) != i:
                self.warn(f"{path}.extra_closures[{i}]", f"{closure_day} is listed twice")
        override = schedule.emergency_override
        if (
            override is not None
            and override.destination is not None
            and override.destination not in self.destinations
        ):
            self.error(
                f"{path}.emergency_override.destination",
                f"unknown destination {override.destination!r}",
            )

    def _check_exception_overlaps(self, path: str, schedule: Schedule) -> None:
        periods = schedule.exceptions
        for i, first in enumerate(periods):
            for j in range(i):
                second = periods[j]
                if (first.start.tzinfo is None) != (second.start.tzinfo is None):
                    continue
                if first.start < second.end and second.start < first.end:
                    self.error(
                        f"{path}.exceptions[{i}]",
                        f"overlaps exceptions[{j}] ({second.name})",
                    )

    def _check_unused_schedules(self) -> None:
        used = {self.rules.host.schedule} | {d.schedule for _, d in self.destinations.values()}
        for name in self.rules.schedules:
            if name not in used:
                self.warn(f"schedules.{name}", "not used by the host or any destination")

    def _check_destination(self, path: str, dest: Destination) -> None:
        if dest.schedule not in self.rules.schedules:
            self.error(f"{path}.schedule", f"no schedule named {dest.schedule!r}")
        if dest.callback_number is None and not dest.dial.startswith("+"):
            self.warn(
                f"{path}.callback_number",
                "a SIP destination without callback_number: a failed transfer names the "
                "host's number",
            )
        seen: set[str] = {dest.id}
        for i, link in enumerate(dest.fallback):
            link_path = f"{path}.fallback[{i}]"
            if link == MESSAGE_LINK:
                if i != len(dest.fallback) - 1:
                    self.error(link_path, "'message' ends a chain; nothing can follow it")
                continue
            if link in seen:
                self.error(link_path, f"{link!r} appears twice in the chain")
            seen.add(link)
            if link not in self.destinations:
                self.error(link_path, f"unknown destination {link!r}")
        last = dest.fallback[-1] if dest.fallback else dest.id
        if last != MESSAGE_LINK and last in self.destinations and not self._always_open(last):
            self.error(
                f"{path}.fallback",
                f"the chain ends at {last!r}, which is not open 24/7: end it with a 24/7 "
                "destination or 'message'",
            )

    def _check_after_hours(self) -> None:
        target = self.rules.after_hours.destination
        if target is None:
            return
        if target not in self.destinations:
            self.error("after_hours.destination", f"unknown destination {target!r}")
        elif not self._always_open(target):
            self.warn(
                "after_hours.destination",
                f"{target!r} is not open 24/7: outside its hours callers hear the message only",
            )

    def _check_arrangements(self) -> None:
        municipalities = {m.id for m in self.rules.municipalities}
        seen: set[str] = set()
        by_municipality: dict[str, list[int]] = defaultdict(list)
        for i, arr in enumerate(self.rules.arrangements):
            path = f"arrangements[{i}]"
            if arr.id in seen:
                self.error(f"{path}.id", f"arrangement {arr.id!r} listed twice")
            seen.add(arr.id)
            if arr.municipality not in municipalities:
                self.error(f"{path}.municipality", f"{arr.municipality!r} is not in municipalities")
            if arr.route != HOST_AGENTS and arr.route not in self.destinations:
                self.error(
                    f"{path}.route", f"{arr.route!r} is neither a destination nor 'host-agents'"
                )
            for j in by_municipality[arr.municipality]:
                other = self.rules.arrangements[j]
                if _arrangements_overlap(arr, other):
                    self.error(f"{path}.effective_from", f"overlaps arrangements[{j}] ({other.id})")
            by_municipality[arr.municipality].append(i)
            if (
                arr.notice_days is not None
                and arr.effective_until is not None
                and arr.effective_until - arr.effective_from < timedelta(days=arr.notice_days)
            ):
                self.warn(f"{path}.effective_until", "shorter than the notice period")

    def _check_languages(self) -> None:
        langs = self.rules.languages
        codes = [lang.code for lang in langs.offered]
        if langs.default not in codes:
            self.error("languages.default", f"{langs.default!r} is not offered")
        keys: dict[str, int] = {}
        for i, lang in enumerate(langs.offered):
            path = f"languages.offered[{i}]"
            if codes.index(lang.code) != i:
                self.error(f"{path}.code", f"{lang.code!r} offered twice")
            if lang.key is None:
                continue
            if lang.key == "0":
                self.error(f"{path}.key", "0 is the live-agent key")
            elif lang.key in keys:
                self.error(f"{path}.key", f"key {lang.key} also picks offered[{keys[lang.key]}]")
            keys[lang.key] = i
        if self.rules.transfer.whisper_language not in codes:
            self.warn("transfer.whisper_language", "not one of the offered languages")

    def _check_prompts(self) -> None:
        known = known_prompt_ids(self.geo.municipalities, self.geo.exchanges)
        prompts = self.rules.prompts
        for name in type(prompts).model_fields:
            for i, prompt_id in enumerate(getattr(prompts, name)):
                if prompt_id not in known:
                    self.error(f"prompts.{name}[{i}]", f"no recording named {prompt_id!r}")
        for i, prompt_id in enumerate(self.rules.after_hours.message):
            if prompt_id not in known:
                self.error(f"after_hours.message[{i}]", f"no recording named {prompt_id!r}")
        host_prompt = self.rules.host.prompt
        if host_prompt is not None and host_prompt not in known:
            self.warn("host.prompt", f"no recording named {host_prompt!r}")

    def _check_policy(self) -> None:
        policy = self.rules.overlap_policy
        members = [m for m in self.rules.municipalities if m.role == "member"]
        if policy.unknown_caller == "member-menu" and len(members) > 9:
            self.error("overlap_policy.unknown_caller", "a member menu offers at most 9 choices")
        caller_id = self.rules.transfer.caller_id
        if caller_id in ("caller", "host") and self.rules.host.number_of_kind("ten-digit") is None:
            self.error("host.numbers", "a ten-digit number is needed to present as caller id")

    def _check_fictional_numbers(self) -> None:
        for i, number in enumerate(self.rules.host.numbers):
            if number.kind != "311" and not _FICTIONAL.match(number.number):
                self.error(
                    f"host.numbers[{i}].number", "a demo rule set uses 555-01xx numbers only"
                )
        for path, dest in self.destinations.values():
            for name, value in (("dial", dest.dial), ("callback_number", dest.callback_number)):
                if value is not None and value.startswith("+") and not _FICTIONAL.match(value):
                    self.error(f"{path}.{name}", "a demo rule set uses 555-01xx numbers only")


def _arrangements_overlap(first: Arrangement, second: Arrangement) -> bool:
    far = date.max
    return first.effective_from <= (second.effective_until or far) and (
        second.effective_from <= (first.effective_until or far)
    )
