"""The parts of a rule-set file that passed the schema, for the cross-checks to read.

A file with schema errors is still cross-checked, so one run of validation lists every problem.
This module reads the raw YAML data field by field against the schema's own types and keeps what
can be read: a model with the fields that passed, lists with ``None`` where an element failed.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from routing_rules.schema import (
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

_T = TypeVar("_T")


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
class RuleParts:
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
    def of(cls, rules: RuleSet) -> RuleParts:
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
    def salvage(cls, data: dict[Any, Any]) -> RuleParts:
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


def present(items: Sequence[_T | None]) -> Iterator[tuple[int, _T]]:
    """The elements that could be read, with their positions in the file."""
    for i, item in enumerate(items):
        if item is not None:
            yield i, item


def declared(name: str, declared: frozenset[str] | None) -> bool:
    """Whether the file declares ``name``; ``True`` when its list could not be read."""
    return declared is None or name in declared
