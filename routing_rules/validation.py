"""Reading and checking a rule-set file: every problem at once, each with the path to its field.

Checking happens in two passes over one reading of the file. The first parses the YAML (a key
given twice in a mapping is refused) and the schema (field formats, ranges, time zones,
numbers). The second checks the file as a whole against the geodata (ids, fallback chains,
periods against each other, prompts). The second pass runs even when the first found errors: it
then checks whatever parts of the file passed the schema, so one run lists every problem. A
field that failed the schema is reported once, by the schema.
"""

from __future__ import annotations

import re
import types
import typing
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from routing_rules.geoview import GeoLookup
from routing_rules.prompts import RECORDED_HOSTS, known_prompt_ids
from routing_rules.schema import (
    HOST_AGENTS,
    MESSAGE_LINK,
    AfterHours,
    Arrangement,
    Destination,
    Host,
    Languages,
    Municipality,
    Names,
    OverlapPolicy,
    PromptSet,
    RuleSet,
    Schedule,
    TransferSettings,
)

_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.DOTALL)
_FICTIONAL = re.compile(r"^\+1[2-9][0-9]{2}55501[0-9]{2}$")
_T = TypeVar("_T")


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


# -- reading the YAML ------------------------------------------------------------------------


class _RuleLoader(yaml.SafeLoader):
    """PyYAML's safe loading (plain data, no tags that build objects) that also notes every
    mapping key given twice, with its line and key path, instead of letting the last one win."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[Problem] = []

    def construct_document(self, node: yaml.Node) -> Any:
        self._note_duplicates(node, [], set())
        return super().construct_document(node)

    def _note_duplicates(self, node: yaml.Node, loc: list[int | str], seen: set[int]) -> None:
        if id(node) in seen:  # an alias to a node already walked (or a recursive structure)
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._note_duplicates(item, [*loc, i], seen)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        first: dict[object, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._scalar_key(key_node)
            name = "?" if key is None else str(key)
            if key is not None and key not in first:
                first[key] = key_node.start_mark
            elif key is not None:
                self.duplicates.append(
                    Problem(
                        format_path([*loc, name]),
                        f"duplicate key {name!r} {_where(key_node.start_mark, first[key])}; "
                        "give each key once",
                    )
                )
            self._note_duplicates(value_node, [*loc, name], seen)

    def _scalar_key(self, node: yaml.Node) -> object | None:
        """The key as the loader will read it (``1`` and ``01`` are the same integer)."""
        if not isinstance(node, yaml.ScalarNode):
            return None
        construct = self.yaml_constructors.get(node.tag) or self.yaml_constructors.get(None)
        if construct is None:
            return None
        try:
            key: object = construct(self, node)
            hash(key)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return None
        return key


def _where(again: yaml.Mark, first: yaml.Mark) -> str:
    if again.line != first.line:
        return f"on line {again.line + 1} (first given on line {first.line + 1})"
    return (
        f"on line {again.line + 1}, column {again.column + 1} (first given at column "
        f"{first.column + 1})"
    )


def _load_yaml(text: str) -> tuple[object, list[Problem], bool]:
    """The YAML data, the problems found reading it, and whether the data is usable at all."""
    loader: _RuleLoader | None = None
    try:
        loader = _RuleLoader(text)
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(where, f"not valid YAML: {problem}")], False
    finally:
        if loader is not None:
            loader.dispose()
    return data, list(loader.duplicates), True


def parse_rules(text: str) -> tuple[RuleSet | None, list[Problem]]:
    """Parse YAML text into a :class:`RuleSet` (YAML and schema checks only)."""
    data, problems, usable = _load_yaml(text)
    if not usable:
        return None, problems
    if not isinstance(data, dict):
        return None, [Problem("", "a rule set is a YAML mapping (host:, municipalities:, ...)")]
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        return None, [*problems, *_pydantic_problems(exc)]
    return (None, problems) if problems else (rules, [])


def validate_text(text: str, geo: GeoLookup) -> ValidationReport:
    """Check a rule-set file completely; never raises for bad input."""
    data, problems, usable = _load_yaml(text)
    if not usable:
        return ValidationReport(errors=tuple(problems))
    if not isinstance(data, dict):
        return ValidationReport(
            errors=(Problem("", "a rule set is a YAML mapping (host:, municipalities:, ...)"),)
        )
    rules: RuleSet | None
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        rules = None
        problems += _pydantic_problems(exc)
    checker = _CrossChecker(_Parts.of(rules) if rules is not None else _Parts.salvage(data), geo)
    checker.run()
    reported = [p.path for p in problems if p.path]
    errors = (*problems, *(p for p in checker.errors if not _within(p.path, reported)))
    warnings = tuple(p for p in checker.warnings if not _within(p.path, reported))
    if errors:
        return ValidationReport(errors=errors, warnings=warnings)
    return ValidationReport(errors=(), warnings=warnings, rules=rules)


def _within(path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or a field inside one."""
    return any(
        path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")) for prefix in prefixes
    )


def check_text(text: str, geo: GeoLookup, source: str = "rule set") -> ValidationReport:
    """Like :func:`validate_text`, but raise :class:`RuleSetInvalid` on any error."""
    report = validate_text(text, geo)
    if not report.ok:
        raise RuleSetInvalid(report, source)
    return report


# -- the parts of a file that passed the schema ------------------------------------------------


class _Unreadable:
    """Marks a value the schema refused and that nothing can stand in for."""


_UNREADABLE = _Unreadable()

_UNCHECKED_FIELDS: dict[type[BaseModel], frozenset[str]] = {
    Host: frozenset({"name", "province"}),
    Municipality: frozenset({"name"}),
    Destination: frozenset({"label"}),
    OverlapPolicy: frozenset({"dominance_share"}),
    Names: frozenset({"en", "fr"}),
}
"""Required fields no cross-check reads: a bad value there does not hide the rest of a section."""


@lru_cache(maxsize=256)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_text(annotation: Any) -> bool:
    """Whether a value of this type is text (``str``, or a ``Literal`` of strings)."""
    annotation = _strip_annotated(annotation)
    if annotation is str:
        return True
    if typing.get_origin(annotation) is Literal:
        return all(isinstance(a, str) for a in typing.get_args(annotation))
    return False


def _is_model(annotation: Any) -> bool:
    annotation = _strip_annotated(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _read_value(annotation: Any, value: object) -> object:
    """``value`` read as ``annotation``; when the schema refuses it, what can still be read.

    Models keep the fields that can be read; lists of models or of text keep ``None`` where an
    element cannot be read, so positions match the file; dicts of models drop unreadable
    entries; text the schema refuses is kept as written. Anything else is ``_UNREADABLE``.
    """
    try:
        return _adapter(annotation).validate_python(value)
    except ValidationError:
        pass
    base = _strip_annotated(annotation)
    origin = typing.get_origin(base)
    args = typing.get_args(base)
    if _is_model(base):
        return _read_model(base, value)
    if origin is list and isinstance(value, list):
        if not (_is_model(args[0]) or _is_text(args[0])):
            return _UNREADABLE
        items = [_read_value(args[0], item) for item in value]
        return [None if item is _UNREADABLE else item for item in items]
    if origin is dict and isinstance(value, dict):
        if not _is_model(args[1]):
            return _UNREADABLE
        entries = {k: _read_value(args[1], v) for k, v in value.items() if isinstance(k, str)}
        return {k: v for k, v in entries.items() if v is not _UNREADABLE}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1 and value is not None:
            return _read_value(options[0], value)
        return _UNREADABLE
    if _is_text(base) and isinstance(value, str):
        return value
    return _UNREADABLE


def _read_model(cls: type[BaseModel], data: object) -> object:
    """A model built from the fields of ``data`` that can be read (see :func:`_read_value`).

    A model whose own rule failed (like a period that closes before it opens) or that lacks a
    field the cross-checks read cannot be read.
    """
    if not isinstance(data, dict):
        return _UNREADABLE
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        if any(not err["loc"] for err in exc.errors()):
            return _UNREADABLE
    unchecked = _UNCHECKED_FIELDS.get(cls, frozenset())
    values: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        value = _read_value(info.rebuild_annotation(), data[name]) if name in data else _UNREADABLE
        if value is not _UNREADABLE:
            values[name] = value
        elif info.is_required() and name not in unchecked:
            return _UNREADABLE
    return cls.model_construct(**values)


def _as(kind: type[_T], value: object) -> _T | None:
    return value if isinstance(value, kind) else None


def _raw_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _raw_ids(items: object) -> set[str]:
    """The text ``id`` of every mapping in a raw list."""
    return {
        item["id"]
        for item in _raw_list(items)
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


@dataclass(frozen=True, slots=True)
class _Parts:
    """What the cross-checks read: a valid rule set, or the parts of a file that passed the schema.

    A required section that cannot be read at all is ``None``; a list keeps ``None`` where an
    element cannot be read (see :func:`_read_value`). The ``declared_*`` sets hold every id the
    file declares, readable or not, so a reference to a destination the schema refused is not
    reported a second time as unknown; ``None`` means the file's list could not be told.
    """

    complete: bool
    demo: bool
    host: Host | None
    exchanges: Sequence[str | None] | None
    municipalities: Sequence[Municipality | None] | None
    overlap_policy: OverlapPolicy | None
    schedules: Mapping[str, Schedule] | None
    after_hours: AfterHours
    transfer: TransferSettings
    languages: Languages | None
    prompts: PromptSet
    arrangements: Sequence[Arrangement | None]
    declared_destinations: frozenset[str] | None
    declared_host_destinations: frozenset[str] | None
    declared_schedules: frozenset[str] | None
    declared_municipalities: frozenset[str] | None

    @classmethod
    def of(cls, rules: RuleSet) -> _Parts:
        host_destinations = frozenset(d.id for d in rules.host.destinations)
        return cls(
            complete=True,
            demo=rules.demo,
            host=rules.host,
            exchanges=rules.exchanges,
            municipalities=rules.municipalities,
            overlap_policy=rules.overlap_policy,
            schedules=rules.schedules,
            after_hours=rules.after_hours,
            transfer=rules.transfer,
            languages=rules.languages,
            prompts=rules.prompts,
            arrangements=rules.arrangements,
            declared_destinations=host_destinations.union(
                d.id for m in rules.municipalities for d in m.destinations
            ),
            declared_host_destinations=host_destinations,
            declared_schedules=frozenset(rules.schedules),
            declared_municipalities=frozenset(m.id for m in rules.municipalities),
        )

    @classmethod
    def salvage(cls, data: dict[Any, Any]) -> _Parts:
        read: dict[str, object] = {}
        for name, info in RuleSet.model_fields.items():
            value = (
                _read_value(info.rebuild_annotation(), data[name]) if name in data else _UNREADABLE
            )
            if value is _UNREADABLE:
                value = None if info.is_required() else info.get_default(call_default_factory=True)
            read[name] = value
        raw_host = data.get("host")
        raw_host_destinations = raw_host.get("destinations") if isinstance(raw_host, dict) else None
        raw_municipalities = data.get("municipalities")
        raw_schedules = data.get("schedules")
        host_destinations = (
            frozenset(_raw_ids(raw_host_destinations))
            if isinstance(raw_host_destinations, list)
            else None
        )
        municipality_destinations = (
            frozenset().union(
                *(
                    _raw_ids(m.get("destinations"))
                    for m in raw_municipalities
                    if isinstance(m, dict)
                )
            )
            if isinstance(raw_municipalities, list)
            else None
        )
        return cls(
            complete=False,
            demo=read["demo"] is True,
            host=_as(Host, read["host"]),
            exchanges=cast("list[str | None] | None", _as(list, read["exchanges"])),
            municipalities=cast(
                "list[Municipality | None] | None", _as(list, read["municipalities"])
            ),
            overlap_policy=_as(OverlapPolicy, read["overlap_policy"]),
            schedules=cast("dict[str, Schedule] | None", _as(dict, read["schedules"])),
            after_hours=_as(AfterHours, read["after_hours"]) or AfterHours(),
            transfer=_as(TransferSettings, read["transfer"]) or TransferSettings(),
            languages=_as(Languages, read["languages"]),
            prompts=_as(PromptSet, read["prompts"]) or PromptSet(),
            arrangements=cast("list[Arrangement | None]", _as(list, read["arrangements"]) or []),
            declared_destinations=(
                None
                if host_destinations is None or municipality_destinations is None
                else host_destinations | municipality_destinations
            ),
            declared_host_destinations=host_destinations,
            declared_schedules=(
                frozenset(k for k in raw_schedules if isinstance(k, str))
                if isinstance(raw_schedules, dict)
                else None
            ),
            declared_municipalities=(
                frozenset(_raw_ids(raw_municipalities))
                if isinstance(raw_municipalities, list)
                else None
            ),
        )


def _present(items: Sequence[_T | None]) -> Iterator[tuple[int, _T]]:
    """The elements that could be read, with their positions in the file."""
    for i, item in enumerate(items):
        if item is not None:
            yield i, item


def _declared(name: str, declared: frozenset[str] | None) -> bool:
    """Whether the file declares ``name``; ``True`` when its list could not be read."""
    return declared is None or name in declared


# -- checks of the file as a whole -------------------------------------------------------------


@dataclass
class _CrossChecker:
    parts: _Parts
    geo: GeoLookup
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    destinations: dict[str, tuple[str, Destination]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def run(self) -> None:
        parts = self.parts
        self._collect_destinations()
        if parts.host is not None:
            self._check_host(parts.host)
        if parts.exchanges is not None:
            self._check_exchanges(parts.exchanges)
        if parts.municipalities is not None:
            self._check_municipalities(parts.municipalities)
        if parts.schedules is not None:
            for name, schedule in parts.schedules.items():
                self._check_schedule(f"schedules.{name}", schedule)
        if parts.complete:
            self._check_unused_schedules()
        for path, dest in self.destinations.values():
            self._check_destination(path, dest)
        self._check_after_hours()
        self._check_arrangements()
        if parts.languages is not None:
            self._check_languages(parts.languages)
        self._check_prompts()
        self._check_policy()
        if parts.demo:
            self._check_fictional_numbers()

    def _all_destinations(self) -> Iterator[tuple[str, Destination]]:
        if self.parts.host is not None:
            for i, dest in _present(self.parts.host.destinations):
                yield f"host.destinations[{i}]", dest
        for m, mun in _present(self.parts.municipalities or ()):
            for i, dest in _present(mun.destinations):
                yield f"municipalities[{m}].destinations[{i}]", dest

    def _collect_destinations(self) -> None:
        for path, dest in self._all_destinations():
            if dest.id in self.destinations or dest.id in (HOST_AGENTS, MESSAGE_LINK):
                self.error(f"{path}.id", f"destination id {dest.id!r} is used twice or reserved")
                continue
            self.destinations[dest.id] = (path, dest)

    def _is_destination(self, name: str) -> bool:
        return name in self.destinations or _declared(name, self.parts.declared_destinations)

    def _is_schedule(self, name: str) -> bool:
        return self.parts.schedules is None or _declared(name, self.parts.declared_schedules)

    def _always_open(self, destination_id: str) -> bool | None:
        """Whether a destination is open 24/7; ``None`` when the file does not say clearly."""
        entry = self.destinations.get(destination_id)
        if entry is None or self.parts.schedules is None:
            return None
        schedule = self.parts.schedules.get(entry[1].schedule)
        if schedule is None:
            # A schedule the file names but the schema refused: its hours are not known.
            return None if entry[1].schedule in (self.parts.declared_schedules or ()) else False
        return schedule.always_open

    def _check_host(self, host: Host) -> None:
        if not _declared(host.agents, self.parts.declared_host_destinations):
            self.error("host.agents", f"{host.agents!r} is not one of host.destinations")
        if not self._is_schedule(host.schedule):
            self.error("host.schedule", f"no schedule named {host.schedule!r}")
        kinds: set[str] = set()
        for i, number in _present(host.numbers):
            if number.kind in kinds:
                self.warn(f"host.numbers[{i}]", f"a second {number.kind} number")
            kinds.add(number.kind)
        if host.prompt is None and host.id not in RECORDED_HOSTS:
            self.warn("host.prompt", f"no recording ships for host-{host.id}; name a prompt")

    def _check_exchanges(self, exchanges: Sequence[str | None]) -> None:
        coded = self.geo.npa_nxx_by_exchange()
        seen: set[str] = set()
        policy = self.parts.overlap_policy
        for i, exchange_id in _present(exchanges):
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
            if policy is None:
                continue
            for share in overlap.municipalities:
                if share.share >= policy.min_share and not _declared(
                    share.id, self.parts.declared_municipalities
                ):
                    self.warn(
                        path,
                        f"{share.share:.0%} of {overlap.name} lies in {share.id}, which is not "
                        "in municipalities: its residents get the default choice",
                    )

    def _check_municipalities(self, municipalities: Sequence[Municipality | None]) -> None:
        seen: set[str] = set()
        for i, mun in _present(municipalities):
            path = f"municipalities[{i}]"
            if mun.id in seen:
                self.error(f"{path}.id", f"municipality {mun.id!r} listed twice")
            seen.add(mun.id)
            if mun.id not in self.geo.municipalities:
                self.error(f"{path}.id", f"unknown municipality {mun.id!r} (not in the geodata)")
            if mun.role == "neighbour" and not mun.destinations:
                self.error(f"{path}.destinations", "a neighbour needs its contact centre")
        if None not in municipalities and not any(
            m is not None and m.role == "member" for m in municipalities
        ):
            self.error("municipalities", "no member municipality")

    def _check_schedule(self, path: str, schedule: Schedule) -> None:
        by_day: dict[str, list[int]] = defaultdict(list)
        for i, period in _present(schedule.weekly):
            for _, day in _present(period.days):
                for j in by_day[day]:
                    other = schedule.weekly[j]
                    assert other is not None
                    if period.open < other.close and other.open < period.close:
                        self.error(f"{path}.weekly[{i}]", f"overlaps weekly[{j}] on {day}")
                by_day[day].append(i)
        self._check_exception_overlaps(path, schedule)
        dates = [c.date if c is not None else None for c in schedule.extra_closures]
        for i, closure_day in _present(dates):
            if dates.index(closure_day) != i:
                self.warn(f"{path}.extra_closures[{i}]", f"{closure_day} is listed twice")
        override = schedule.emergency_override
        if (
            override is not None
            and override.destination is not None
            and not self._is_destination(override.destination)
        ):
            self.error(
                f"{path}.emergency_override.destination",
                f"unknown destination {override.destination!r}",
            )

    def _check_exception_overlaps(self, path: str, schedule: Schedule) -> None:
        # Periods whose start and end differ in carrying a UTC offset are the schema's to report.
        periods = [
            (i, p)
            for i, p in _present(schedule.exceptions)
            if (p.start.tzinfo is None) == (p.end.tzinfo is None)
        ]
        for n, (i, first) in enumerate(periods):
            for j, second in periods[:n]:
                if (first.start.tzinfo is None) != (second.start.tzinfo is None):
                    continue
                if first.start < second.end and second.start < first.end:
                    self.error(
                        f"{path}.exceptions[{i}]",
                        f"overlaps exceptions[{j}] ({second.name})",
                    )

    def _check_unused_schedules(self) -> None:
        host = self.parts.host
        used = {d.schedule for _, d in self.destinations.values()}
        if host is not None:
            used.add(host.schedule)
        for name in self.parts.schedules or {}:
            if name not in used:
                self.warn(f"schedules.{name}", "not used by the host or any destination")

    def _check_destination(self, path: str, dest: Destination) -> None:
        if not self._is_schedule(dest.schedule):
            self.error(f"{path}.schedule", f"no schedule named {dest.schedule!r}")
        if dest.callback_number is None and dest.dial.startswith(("sip:", "sips:")):
            self.warn(
                f"{path}.callback_number",
                "a SIP destination without callback_number: a failed transfer names the "
                "host's number",
            )
        seen: set[str] = {dest.id}
        for i, link in _present(dest.fallback):
            link_path = f"{path}.fallback[{i}]"
            if link == MESSAGE_LINK:
                if i != len(dest.fallback) - 1:
                    self.error(link_path, "'message' ends a chain; nothing can follow it")
                continue
            if link in seen:
                self.error(link_path, f"{link!r} appears twice in the chain")
            seen.add(link)
            if not self._is_destination(link):
                self.error(link_path, f"unknown destination {link!r}")
        last = dest.fallback[-1] if dest.fallback else dest.id
        if last is not None and last != MESSAGE_LINK and self._always_open(last) is False:
            self.error(
                f"{path}.fallback",
                f"the chain ends at {last!r}, which is not open 24/7: end it with a 24/7 "
                "destination or 'message'",
            )

    def _check_after_hours(self) -> None:
        target = self.parts.after_hours.destination
        if target is None:
            return
        if not self._is_destination(target):
            self.error("after_hours.destination", f"unknown destination {target!r}")
        elif self._always_open(target) is False:
            self.warn(
                "after_hours.destination",
                f"{target!r} is not open 24/7: outside its hours callers hear the message only",
            )

    def _check_arrangements(self) -> None:
        arrangements = self.parts.arrangements
        seen: set[str] = set()
        by_municipality: dict[str, list[int]] = defaultdict(list)
        for i, arr in _present(arrangements):
            path = f"arrangements[{i}]"
            if arr.id in seen:
                self.error(f"{path}.id", f"arrangement {arr.id!r} listed twice")
            seen.add(arr.id)
            if not _declared(arr.municipality, self.parts.declared_municipalities):
                self.error(f"{path}.municipality", f"{arr.municipality!r} is not in municipalities")
            if arr.route != HOST_AGENTS and not self._is_destination(arr.route):
                self.error(
                    f"{path}.route", f"{arr.route!r} is neither a destination nor 'host-agents'"
                )
            for j in by_municipality[arr.municipality]:
                other = arrangements[j]
                assert other is not None
                if _arrangements_overlap(arr, other):
                    self.error(f"{path}.effective_from", f"overlaps arrangements[{j}] ({other.id})")
            by_municipality[arr.municipality].append(i)
            if (
                arr.notice_days is not None
                and arr.effective_until is not None
                and (arr.effective_until - arr.effective_from).days < arr.notice_days
            ):
                self.warn(f"{path}.effective_until", "shorter than the notice period")

    def _check_languages(self, langs: Languages) -> None:
        offered = list(_present(langs.offered))
        codes = [lang.code for _, lang in offered]
        if langs.default not in codes and None not in langs.offered:
            self.error("languages.default", f"{langs.default!r} is not offered")
        keys: dict[str, int] = {}
        for n, (i, lang) in enumerate(offered):
            path = f"languages.offered[{i}]"
            if codes.index(lang.code) != n:
                self.error(f"{path}.code", f"{lang.code!r} offered twice")
            if lang.key is None:
                continue
            if lang.key == "0":
                self.error(f"{path}.key", "0 is the live-agent key")
            elif lang.key in keys:
                self.error(f"{path}.key", f"key {lang.key} also picks offered[{keys[lang.key]}]")
            keys[lang.key] = i
        if self.parts.transfer.whisper_language not in codes and None not in langs.offered:
            self.warn("transfer.whisper_language", "not one of the offered languages")

    def _check_prompts(self) -> None:
        known = known_prompt_ids(self.geo.municipalities, self.geo.exchanges)
        prompts = self.parts.prompts
        for name in type(prompts).model_fields:
            for i, prompt_id in _present(getattr(prompts, name)):
                if prompt_id not in known:
                    self.error(f"prompts.{name}[{i}]", f"no recording named {prompt_id!r}")
        for i, prompt_id in _present(self.parts.after_hours.message):
            if prompt_id not in known:
                self.error(f"after_hours.message[{i}]", f"no recording named {prompt_id!r}")
        host_prompt = self.parts.host.prompt if self.parts.host is not None else None
        if host_prompt is not None and host_prompt not in known:
            self.warn("host.prompt", f"no recording named {host_prompt!r}")

    def _check_policy(self) -> None:
        policy = self.parts.overlap_policy
        municipalities = self.parts.municipalities
        if policy is not None and municipalities is not None and None not in municipalities:
            members = [m for m in municipalities if m is not None and m.role == "member"]
            if policy.unknown_caller == "member-menu" and len(members) > policy.max_menu_options:
                self.warn(
                    "overlap_policy.unknown_caller",
                    f"the member menu would offer {len(members)} municipalities, more than "
                    f"max_menu_options ({policy.max_menu_options}): unknown and withheld callers "
                    "go to the host's agents",
                )
        host = self.parts.host
        caller_id = self.parts.transfer.caller_id
        if (
            host is not None
            and None not in host.numbers
            and caller_id in ("caller", "host")
            and host.number_of_kind("ten-digit") is None
        ):
            self.error("host.numbers", "a ten-digit number is needed to present as caller id")

    def _check_fictional_numbers(self) -> None:
        if self.parts.host is not None:
            for i, number in _present(self.parts.host.numbers):
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
