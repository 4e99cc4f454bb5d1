"""An immutable, validated rule set bound to the geodata it was checked against.

A call takes one snapshot when it starts and keeps it to the end, so a new rule version never
changes a call half-way through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from routing_rules.geoview import GeoLookup
from routing_rules.limits import MAX_RULES_BYTES
from routing_rules.schema import Destination, Municipality, RuleSet
from routing_rules.validation import ValidationReport, check_text

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_NAMES: tuple[str, ...] = ("durham", "cape-breton")


def content_hash(text: str) -> str:
    """The hash that identifies a rule-set text (sha256 of its UTF-8 bytes, hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RuleSnapshot:
    """A validated rule set, its geodata, and lookups derived once for the call path.

    ``version`` is the stored version number (``None`` for a file or demo that was never
    stored); ``content_hash`` identifies the rule-set text; ``source`` says where it came from.
    """

    rules: RuleSet
    geo: GeoLookup
    version: int | None
    content_hash: str
    source: str
    destinations: Mapping[str, Destination]
    destination_owner: Mapping[str, str | None]
    municipalities: Mapping[str, Municipality]
    warnings: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        rules: RuleSet,
        geo: GeoLookup,
        *,
        version: int | None,
        content_hash: str,
        source: str,
        warnings: tuple[str, ...] = (),
    ) -> RuleSnapshot:
        destinations: dict[str, Destination] = {d.id: d for d in rules.host.destinations}
        owner: dict[str, str | None] = dict.fromkeys(destinations)
        for mun in rules.municipalities:
            for dest in mun.destinations:
                destinations[dest.id] = dest
                owner[dest.id] = mun.id
        return cls(
            rules=rules,
            geo=geo,
            version=version,
            content_hash=content_hash,
            source=source,
            destinations=MappingProxyType(destinations),
            destination_owner=MappingProxyType(owner),
            municipalities=MappingProxyType({m.id: m for m in rules.municipalities}),
            warnings=warnings,
        )


def default_geo() -> GeoLookup:
    """The demo geodata index, built (or read from its disk cache) once per process."""
    return _default_geo()


@lru_cache(maxsize=1)
def _default_geo() -> GeoLookup:
    from geo.index import load_geo_index

    index: GeoLookup = load_geo_index()
    return index


def snapshot_from_text(
    text: str, geo: GeoLookup, *, source: str, version: int | None = None
) -> RuleSnapshot:
    """Validate rule-set text and bind it; raises ``RuleSetInvalid`` listing every error."""
    report: ValidationReport = check_text(text, geo, source)
    assert report.rules is not None
    return RuleSnapshot.build(
        report.rules,
        geo,
        version=version,
        content_hash=content_hash(text),
        source=source,
        warnings=tuple(str(w) for w in report.warnings),
    )


class RulesUnreadable(OSError):
    """A ``--rules`` value that is not a readable rule-set file or a demo name, or a file too
    large to be a rule set."""


def rules_path(spec: str) -> Path:
    """A demo name (``durham``, ``cape-breton``) or a file path → the YAML file."""
    if spec in DEMO_NAMES:
        return DEMO_DIR / f"{spec}.yaml"
    return Path(spec)


def read_rules(spec: str) -> str:
    """The text of a demo rule set (by name) or a rule-set file (by path).

    Raises :class:`RulesUnreadable` (an ``OSError``) naming the demo rule sets when ``spec`` is
    neither, and when the file is larger than a rule set may be: it reads no more than that, so
    a device or a huge file never fills the memory.
    """
    path = rules_path(spec)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RULES_BYTES + 1)
    except OSError as exc:
        if spec in DEMO_NAMES:
            raise
        demos = ", ".join(DEMO_NAMES)
        reason = exc.strerror or str(exc)
        raise RulesUnreadable(
            f"{spec!r} is neither a demo rule set ({demos}) nor a readable file ({reason})"
        ) from exc
    if len(data) > MAX_RULES_BYTES:
        raise RulesUnreadable(
            f"{spec}: larger than {MAX_RULES_BYTES} bytes, the most a rule set may hold"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesUnreadable(f"{spec}: not a rule-set file (not UTF-8 text)") from exc


def load_snapshot(spec: str, geo: GeoLookup | None = None) -> RuleSnapshot:
    """Load a demo rule set by name, or a rule-set file by path, without any database."""
    text = read_rules(spec)
    source = f"demo:{spec}" if spec in DEMO_NAMES else str(rules_path(spec))
    return snapshot_from_text(text, geo if geo is not None else default_geo(), source=source)
