"""The admin page's coverage map: municipalities, exchanges and shared zones as one SVG.

The projection is a plain equirectangular one scaled by the cosine of the map's middle
latitude, and the root element says so (``data-lon-min``, ``data-lat-max``,
``data-deg-per-unit-x``, ``data-deg-per-unit-y``), so the page turns a click back into latitude
and longitude without knowing anything else about the drawing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from geo.model import ExchangeOverlap
from geo.palette import municipality_colour
from geo.sources import GeoSources

MAP_WIDTH = 900.0


@dataclass(frozen=True, slots=True)
class MapFeature:
    id: str
    name: str
    geometry: Polygon | MultiPolygon


def read_features(path: Path, wanted: Iterable[str] | None = None) -> list[MapFeature]:
    """The polygons of a GeoJSON file (only the ids in ``wanted`` when given)."""
    keep = set(wanted) if wanted is not None else None
    data = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for feature in data["features"]:
        props = feature["properties"]
        if keep is not None and props["id"] not in keep:
            continue
        features.append(
            MapFeature(props["id"], props.get("name", props["id"]), shape(feature["geometry"]))
        )
    return features


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    parts: list[Polygon] = []
    for part in getattr(geometry, "geoms", ()):
        parts.extend(_polygons(part))
    return parts


class _Projection:
    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        self.lon_min, self.lat_min, self.lon_max, self.lat_max = bounds
        mid = math.radians((self.lat_min + self.lat_max) / 2)
        self.x_scale = MAP_WIDTH / max((self.lon_max - self.lon_min) * math.cos(mid), 1e-9)
        self.x_scale *= math.cos(mid)
        self.y_scale = self.x_scale / math.cos(mid)
        self.height = (self.lat_max - self.lat_min) * self.y_scale

    def path(self, geometry: BaseGeometry) -> str:
        """SVG path data of every polygon in ``geometry`` (lines and points are dropped)."""
        parts = []
        for polygon in _polygons(geometry):
            for ring in (polygon.exterior, *polygon.interiors):
                points = " ".join(
                    f"{(lon - self.lon_min) * self.x_scale:.1f},"
                    f"{(self.lat_max - lat) * self.y_scale:.1f}"
                    for lon, lat in ring.coords
                )
                parts.append(f"M{points}Z")
        return "".join(parts)


def render_map(
    municipalities: list[MapFeature],
    exchanges: list[MapFeature],
    overlaps: Mapping[str, ExchangeOverlap],
    title: str,
) -> str:
    """The SVG document: municipalities filled, exchanges outlined, shared zones hatched."""
    shapes = [f.geometry for f in (*municipalities, *exchanges)]
    if not shapes:
        return _empty(title)
    bounds = (
        min(s.bounds[0] for s in shapes),
        min(s.bounds[1] for s in shapes),
        max(s.bounds[2] for s in shapes),
        max(s.bounds[3] for s in shapes),
    )
    proj = _Projection(bounds)
    tolerance = (bounds[2] - bounds[0]) / 2000
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH:.0f} {proj.height:.0f}" '
        f'width="{MAP_WIDTH:.0f}" height="{proj.height:.0f}" role="img" '
        f'data-lon-min="{proj.lon_min:.6f}" data-lat-max="{proj.lat_max:.6f}" '
        f'data-deg-per-unit-x="{1 / proj.x_scale:.9f}" '
        f'data-deg-per-unit-y="{1 / proj.y_scale:.9f}">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="shared" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#e6550d" '
        'fill-opacity="0.15"/><line x1="0" y1="0" x2="0" y2="8" stroke="#e6550d" '
        'stroke-width="3" stroke-opacity="0.55"/></pattern></defs>',
        f'<rect width="{MAP_WIDTH:.0f}" height="{proj.height:.0f}" fill="#f4f8fb"/>',
        '<g class="municipalities">',
    ]
    for n, mun in enumerate(municipalities):
        d = proj.path(mun.geometry.simplify(tolerance))
        out.append(
            f'<path class="municipality" data-id="{escape(mun.id)}" d="{d}" '
            f'fill="{municipality_colour(n)}" stroke="#333" stroke-width="1.2">'
            f"<title>{escape(mun.name)}</title></path>"
        )
    out.append('</g><g class="exchanges">')
    by_id = {m.id: m.geometry for m in municipalities}
    zones: list[str] = []
    for exchange in exchanges:
        overlap = overlaps.get(exchange.id)
        shared = overlap is not None and overlap.classification == "shared"
        d = proj.path(exchange.geometry.simplify(tolerance))
        label = _exchange_label(exchange, overlap)
        out.append(
            f'<path class="exchange{" shared" if shared else ""}" data-id="{escape(exchange.id)}" '
            f'd="{d}" fill="none" stroke="#555" stroke-width="0.6" stroke-dasharray="3 2">'
            f"<title>{escape(label)}</title></path>"
        )
        if shared and overlap is not None:
            zone = _shared_zone(exchange.geometry, overlap, by_id)
            if not zone.is_empty:
                zones.append(
                    f'<path class="shared-zone" data-id="{escape(exchange.id)}" '
                    f'd="{proj.path(zone.simplify(tolerance))}" fill="url(#shared)" stroke="none">'
                    f"<title>{escape(label)}</title></path>"
                )
    out.append('</g><g class="shared-zones">')
    out.extend(zones)
    out.append("</g></svg>")
    return "\n".join(out)


def _shared_zone(
    exchange: Polygon | MultiPolygon,
    overlap: ExchangeOverlap,
    municipalities: Mapping[str, Polygon | MultiPolygon],
) -> BaseGeometry:
    """The part of a shared exchange outside the municipality holding most of it: where a 311
    call reaches a neighbour's centre (the whole exchange when that municipality is not drawn)."""
    dominant = municipalities.get(overlap.municipalities[0].id) if overlap.municipalities else None
    if dominant is None:
        return exchange
    return exchange.difference(dominant)


def _exchange_label(exchange: MapFeature, overlap: ExchangeOverlap | None) -> str:
    if overlap is None:
        return f"exchange {exchange.name}"
    shares = ", ".join(f"{m.id} {m.share:.0%}" for m in overlap.municipalities)
    return f"exchange {exchange.name} ({overlap.classification}): {shares}"


def _empty(title: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 100" width="900" height="100">'
        f'<title>{escape(title)}</title><text x="10" y="50">no polygons to draw</text></svg>'
    )


def coverage_map_svg(
    municipality_ids: Iterable[str],
    exchange_ids: Iterable[str],
    overlaps: Mapping[str, ExchangeOverlap],
    title: str,
    sources: GeoSources | None = None,
) -> str:
    """The map of one rule set's municipalities and exchanges from the geodata files."""
    chosen = sources or GeoSources()
    return render_map(
        read_features(chosen.municipalities, municipality_ids),
        read_features(chosen.exchanges, exchange_ids),
        overlaps,
        title,
    )
