"""Reading and validating polygon GeoJSON (municipalities, exchanges).

Everything wrong with a file is collected and refused at once (``GeoDataError``), each problem
naming the file, the feature and the fault. Invalid geometry is repaired only when the caller
asks for it, and a repair is reported as a warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from geo.errors import ID_PATTERN, ID_RULE, GeoDataError, Problem, read_geodata_text

# Canada with a margin: a coordinate pair outside this box that lands inside it when swapped
# was almost certainly written as lat/lon instead of GeoJSON's lon/lat.
CANADA_LON = (-142.0, -50.0)
CANADA_LAT = (41.0, 84.0)

PolygonalGeometry: TypeAlias = "Polygon | MultiPolygon"


@dataclass(frozen=True, slots=True)
class PolygonFeature:
    """One validated polygon feature: its id, its properties and its lon/lat geometry."""

    id: str
    name: str
    province: str
    priority: int
    geometry: PolygonalGeometry


@dataclass(frozen=True, slots=True)
class LoadedPolygons:
    features: tuple[PolygonFeature, ...]
    warnings: tuple[str, ...]


def _coordinates(value: Any) -> Iterator[Any]:
    """Every innermost position of a GeoJSON coordinates array."""
    if isinstance(value, list) and value and not isinstance(value[0], list):
        yield value
        return
    if isinstance(value, list):
        for item in value:
            yield from _coordinates(item)


def _in_canada(lon: float, lat: float) -> bool:
    return CANADA_LON[0] <= lon <= CANADA_LON[1] and CANADA_LAT[0] <= lat <= CANADA_LAT[1]


def _coordinate_problem(coords: Any) -> str | None:
    positions = list(_coordinates(coords))
    if not positions:
        return "geometry has no coordinates"
    swapped = 0
    for pos in positions:
        if len(pos) < 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2]
        ):
            return f"position {pos!r} is not a pair of numbers"
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return f"position {pos!r} is not finite"
        if not _in_canada(lon, lat) and _in_canada(lat, lon):
            swapped += 1
        elif not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            return f"coordinate ({lon}, {lat}) is outside the lon/lat range"
    if swapped:
        return (
            f"{swapped} coordinate(s) look like lat/lon (e.g. {positions[0][:2]!r}); "
            "GeoJSON positions are [longitude, latitude]"
        )
    return None


def _polygonal_part(geometry: shapely.Geometry) -> PolygonalGeometry | None:
    polygons = [
        g for g in shapely.get_parts(geometry).tolist() if isinstance(g, Polygon) and not g.is_empty
    ]
    if not polygons:
        return None
    result: PolygonalGeometry = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    return result


def read_polygon_file(
    path: Path,
    *,
    required: Sequence[str],
    repair: bool = False,
) -> LoadedPolygons:
    """Read a GeoJSON FeatureCollection of polygons whose features carry ``required`` properties.

    ``priority`` defaults to 0 when it is not required; ``province`` to the empty string.
    """
    file = str(path)
    text = read_geodata_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoDataError([Problem(file, "-", f"not valid JSON: {exc}")]) from None
    except RecursionError:
        raise GeoDataError([Problem(file, "-", "not GeoJSON: nested far too deeply")]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise GeoDataError([Problem(file, "-", "not a GeoJSON FeatureCollection")])
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        raise GeoDataError([Problem(file, "-", "the FeatureCollection has no features")])

    problems: list[Problem] = []
    warnings: list[str] = []
    features: list[PolygonFeature] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_features, start=1):
        props = raw.get("properties") if isinstance(raw, dict) else None
        props = props if isinstance(props, dict) else {}
        label = f"feature #{number}" + (f" (id {props['id']!r})" if "id" in props else "")

        def refuse(problem: str, label: str = label) -> None:
            problems.append(Problem(file, label, problem))

        missing = [key for key in required if props.get(key) in (None, "")]
        if missing:
            refuse(f"missing propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
            continue
        feature_id = str(props["id"])
        if not ID_PATTERN.match(feature_id):
            refuse(f"id {feature_id!r} is not an id ({ID_RULE}): rules could not name it")
            continue
        if feature_id in seen:
            refuse(f"duplicate id {feature_id!r} (first used by feature #{seen[feature_id]})")
            continue
        seen[feature_id] = number
        priority = props.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            refuse(f"priority {priority!r} is not an integer")
            continue
        geom_json = raw.get("geometry") if isinstance(raw, dict) else None
        if not isinstance(geom_json, dict) or geom_json.get("type") not in (
            "Polygon",
            "MultiPolygon",
        ):
            kind = geom_json.get("type") if isinstance(geom_json, dict) else geom_json
            refuse(f"geometry must be a Polygon or MultiPolygon, not {kind!r}")
            continue
        coord_problem = _coordinate_problem(geom_json.get("coordinates"))
        if coord_problem:
            refuse(coord_problem)
            continue
        try:
            geometry = shape(geom_json)
        except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as exc:
            refuse(f"geometry cannot be built: {exc}")
            continue
        if not geometry.is_valid:
            reason = explain_validity(geometry)
            if not repair:
                refuse(f"invalid geometry: {reason} (pass --repair to fix it with make_valid)")
                continue
            repaired = _polygonal_part(shapely.make_valid(geometry))
            if repaired is None:
                refuse(f"invalid geometry that cannot be repaired: {reason}")
                continue
            warnings.append(f"{file}: {label}: invalid geometry repaired ({reason})")
            geometry = repaired
        if geometry.is_empty or geometry.area == 0:
            refuse("geometry is empty")
            continue
        features.append(
            PolygonFeature(
                id=feature_id,
                name=str(props.get("name", feature_id)),
                province=str(props.get("province", "")),
                priority=priority,
                geometry=geometry,
            )
        )
    if problems:
        raise GeoDataError(problems)
    return LoadedPolygons(tuple(features), tuple(warnings))


def read_municipalities(path: Path, *, repair: bool = False) -> LoadedPolygons:
    return read_polygon_file(path, required=("id", "name", "priority"), repair=repair)


def read_exchanges(path: Path, *, repair: bool = False) -> LoadedPolygons:
    return read_polygon_file(path, required=("id", "name"), repair=repair)
