"""The geographic index a rule set routes with: built once per data set, cached on disk.

``load_geo_index`` reads and validates the three inputs, computes the overlap table, the
point index and the number index, and keeps the result in a cache file named by a hash of the
input bytes, the build parameters and this package's code; a later load with the same inputs
unpickles it instead of redoing the geometry. A cache file that cannot be read is rebuilt
(with a warning). The cache directory is ``$IVR311_CACHE_DIR`` or ``~/.cache/ivr311``; it is
the user's own directory, so unpickling from it is trusted like any local configuration.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import structlog

from geo.calling_number import parse_calling_number
from geo.cnac import IN_SERVICE, match_codes_to_exchanges, read_co_codes
from geo.loading import PolygonalGeometry, read_exchanges, read_municipalities
from geo.model import ExchangeOverlap, Municipality, NumberPlacement, PlacementFailure
from geo.overlap import EQUAL_AREA_CRS, SliverThresholds, overlap_table, rank_key
from geo.pointindex import PointIndex, exact_locate
from geo.sources import GeoSources

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One CO code: its CNAC status and exchange area, and the exchange polygon it maps to."""

    status: str
    exchange_area: str
    exchange: str | None


@dataclass(frozen=True, slots=True)
class BuildParameters:
    thresholds: SliverThresholds = field(default_factory=SliverThresholds)
    repair: bool = False
    crs: str = EQUAL_AREA_CRS


@dataclass
class GeoIndex:
    """Everything the call path asks of geography, answered by lookups (see the module doc)."""

    content_hash: str
    _municipalities: dict[str, Municipality]
    _exchanges: dict[str, ExchangeOverlap]
    _codes: dict[str, CodeEntry]
    _ranked_ids: tuple[str, ...]
    _points: PointIndex
    warnings: tuple[str, ...]
    co_codes_date: str | None
    _by_exchange: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self._by_exchange:
            grouped: dict[str, list[str]] = {}
            for code, entry in self._codes.items():
                if entry.exchange is not None and entry.status == IN_SERVICE:
                    grouped.setdefault(entry.exchange, []).append(code)
            self._by_exchange = {k: tuple(sorted(v)) for k, v in sorted(grouped.items())}

    @property
    def municipalities(self) -> Mapping[str, Municipality]:
        return MappingProxyType(self._municipalities)

    @property
    def exchanges(self) -> Mapping[str, ExchangeOverlap]:
        return MappingProxyType(self._exchanges)

    def locate(self, lat: float, lon: float) -> str | None:
        """The municipality id at a point (edges count as inside), or ``None``."""
        position = self._points.locate(lat, lon)
        return self._ranked_ids[position] if position >= 0 else None

    def exact_locate(self, lat: float, lon: float) -> str | None:
        """The same answer as :meth:`locate`, by testing the polygons one by one (slow)."""
        position = exact_locate(self._points.polygons, lat, lon)
        return self._ranked_ids[position] if position >= 0 else None

    def ranked_municipalities(self) -> tuple[tuple[str, PolygonalGeometry], ...]:
        """Municipality ids and lon/lat polygons, strongest first (the order overlaps resolve)."""
        return tuple(zip(self._ranked_ids, self._points.polygons, strict=True))

    def exchange_for_npa_nxx(self, npa_nxx: str) -> ExchangeOverlap | None:
        """The exchange of an in-service NPA-NXX (six digits), or ``None``."""
        entry = self._codes.get(npa_nxx)
        if entry is None or entry.exchange is None or entry.status != IN_SERVICE:
            return None
        return self._exchanges.get(entry.exchange)

    def codes(self) -> Mapping[str, CodeEntry]:
        """Every CO code of the data set, by NPA-NXX (in service or not)."""
        return MappingProxyType(self._codes)

    def grid_stats(self) -> dict[str, int]:
        """Size of the point index: fine cells resolved by lookup, boundary cells, coarse cells."""
        return {
            "resolved_fine_cells": self._points.resolved_cells,
            "boundary_fine_cells": self._points.boundary_cells,
            "coarse_cells": len(self._points.cells),
        }

    def npa_nxx_by_exchange(self) -> Mapping[str, tuple[str, ...]]:
        """In-service codes of each exchange (sorted); exchanges without one are absent."""
        return MappingProxyType(self._by_exchange)

    def place_number(self, raw: str | None) -> NumberPlacement:
        """Calling number → exchange and overlap row, or the reason it cannot be placed."""
        parsed = parse_calling_number(raw)
        code = parsed.npa_nxx
        if code is None:
            assert parsed.failure is not None
            return NumberPlacement(None, None, parsed.failure, parsed.detail)
        entry = self._codes.get(code)
        shown = f"{code[:3]}-{code[3:]}"
        if entry is None:
            return NumberPlacement(
                code, None, PlacementFailure.UNKNOWN_CODE, f"{shown} is not in the CO code file"
            )
        if entry.status != IN_SERVICE:
            return NumberPlacement(
                code,
                None,
                PlacementFailure.NOT_IN_SERVICE,
                f"{shown} ({entry.exchange_area}) has status {entry.status!r}, not In Service",
            )
        exchange = self._exchanges.get(entry.exchange) if entry.exchange else None
        if exchange is None:
            return NumberPlacement(
                code,
                None,
                PlacementFailure.NO_POLYGON,
                f"{shown} belongs to exchange area {entry.exchange_area!r}, which has no polygon",
            )
        return NumberPlacement(code, exchange, None, f"{shown} is in exchange {exchange.name}")


def build_geo_index(sources: GeoSources, params: BuildParameters, content_hash: str) -> GeoIndex:
    """Read, validate and compute everything (the slow path; see ``load_geo_index``)."""
    municipalities = read_municipalities(sources.municipalities, repair=params.repair)
    exchanges = read_exchanges(sources.exchanges, repair=params.repair)
    co_file = read_co_codes(sources.co_codes)
    rows, areas, overlap_warnings = overlap_table(
        municipalities.features, exchanges.features, params.thresholds, params.crs
    )
    match = match_codes_to_exchanges(
        co_file,
        sources.co_codes,
        {e.id: (e.name, e.province) for e in exchanges.features},
    )
    ranked = sorted(municipalities.features, key=lambda f: rank_key(f, areas[f.id]))
    points = PointIndex.build([f.geometry for f in ranked])
    codes = {
        c.npa_nxx: CodeEntry(c.status, c.exchange_area, match.exchange_of[c.npa_nxx])
        for c in co_file.codes
    }
    return GeoIndex(
        content_hash=content_hash,
        _municipalities={
            f.id: Municipality(f.id, f.name, f.province, f.priority, areas[f.id])
            for f in municipalities.features
        },
        _exchanges=rows,
        _codes=codes,
        _ranked_ids=tuple(f.id for f in ranked),
        _points=points,
        warnings=(
            *municipalities.warnings,
            *exchanges.warnings,
            *(f"{sources.exchanges}: {w}" for w in overlap_warnings),
            *match.warnings,
        ),
        co_codes_date=co_file.snapshot_date,
    )


def default_cache_dir() -> Path:
    configured = os.environ.get("IVR311_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "ivr311"


def _code_version() -> str:
    """Hash of every module of this package: a cached index is rebuilt when the code changes."""
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def input_hash(sources: GeoSources, params: BuildParameters) -> str:
    """Hash of the input files' bytes and the build parameters: the data set's identity."""
    digest = hashlib.sha256()
    for path in sources.paths():
        if path.is_file():
            with path.open("rb") as handle:
                file_digest = hashlib.file_digest(handle, "sha256").digest()
        else:
            file_digest = b"<missing " + str(path).encode() + b">"
        digest.update(len(file_digest).to_bytes(8, "big"))
        digest.update(file_digest)
    digest.update(repr(params).encode())
    return digest.hexdigest()


def cache_path(cache_dir: Path, content_hash: str) -> Path:
    key = hashlib.sha256((content_hash + _code_version()).encode()).hexdigest()[:40]
    return cache_dir / f"geo-index-{key}.pickle"


def _read_cache(path: Path, content_hash: str) -> GeoIndex | None:
    try:
        with path.open("rb") as handle:
            index = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:  # any unreadable cache file just means "rebuild"
        log.warning("geo_cache_unreadable", path=str(path), error=repr(exc))
        return None
    if not isinstance(index, GeoIndex) or index.content_hash != content_hash:
        log.warning("geo_cache_mismatch", path=str(path))
        return None
    return index


def _write_cache(path: Path, index: GeoIndex) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".geo-index-", suffix=".tmp", delete=False
        ) as handle:
            pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)
            temporary = Path(handle.name)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("geo_cache_not_written", path=str(path), error=repr(exc))


def load_geo_index(
    sources: GeoSources | None = None,
    *,
    cache_dir: Path | None = None,
    thresholds: SliverThresholds | None = None,
    repair: bool = False,
    use_cache: bool = True,
) -> GeoIndex:
    """The index for ``sources`` (the demo data by default), from the disk cache when possible.

    Raises ``geo.errors.GeoDataError`` listing every problem when the data is refused.
    """
    chosen = sources or GeoSources()
    params = BuildParameters(thresholds=thresholds or SliverThresholds(), repair=repair)
    content_hash = input_hash(chosen, params)
    path = cache_path(cache_dir or default_cache_dir(), content_hash)
    if use_cache:
        cached = _read_cache(path, content_hash)
        if cached is not None:
            log.debug("geo_index_from_cache", path=str(path))
            return cached
    index = build_geo_index(chosen, params, content_hash)
    for warning in index.warnings:
        log.warning("geo_data_warning", warning=warning)
    log.info(
        "geo_index_built",
        municipalities=len(index.municipalities),
        exchanges=len(index.exchanges),
        codes=len(index.codes()),
    )
    if use_cache:
        _write_cache(path, index)
    return index
