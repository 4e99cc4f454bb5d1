"""The overlap table: which municipalities each exchange covers, in km² and as a share.

Geometry is intersected in Statistics Canada Lambert (EPSG:3347, metres). That projection is
conformal, not equal-area: at 44-46° N it inflates areas by 2.5-4.5 %. Each area is
therefore divided by the projection's areal scale factor at the feature's centroid (pyproj
``Proj.get_factors``), which over an exchange-sized area leaves an error far below the sliver
thresholds. Shares are ratios inside one exchange and barely depend on the correction.

Where municipal polygons overlap, each piece of land is counted once, for the municipality the
point index would answer there (higher priority, then the smaller polygon), so the table and
``locate`` never disagree and the shares of an exchange never add up to more than one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geo.loading import PolygonalGeometry, PolygonFeature
from geo.model import ExchangeOverlap, MunicipalityShare

EQUAL_AREA_CRS = "EPSG:3347"
M2_PER_KM2 = 1_000_000.0
DENSIFY_DEG = 0.002
DEFAULT_SLIVER_KM2 = 0.05
DEFAULT_SLIVER_SHARE = 0.005


@dataclass(frozen=True, slots=True)
class SliverThresholds:
    """An overlap smaller than either threshold is digitising noise, not a shared area."""

    min_km2: float = DEFAULT_SLIVER_KM2
    min_share: float = DEFAULT_SLIVER_SHARE


def project(geometry: PolygonalGeometry, crs: str = EQUAL_AREA_CRS) -> shapely.Geometry:
    """Lon/lat (EPSG:4326) geometry → the given projected CRS, in metres.

    GeoJSON edges are straight in lon/lat; long edges are densified first (every
    ``DENSIFY_DEG``) so that they keep that shape in the projection, where a straight line
    between the projected end points would bow away from it by tens of metres.
    """
    from pyproj import Transformer  # only when building: a cached index never needs pyproj

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(
        shapely.segmentize(geometry, DENSIFY_DEG),
        lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
    )


def areal_scale(geometry: PolygonalGeometry, crs: str = EQUAL_AREA_CRS) -> float:
    """How much the projection inflates areas at the centroid of a lon/lat geometry."""
    from pyproj import Proj

    centre = geometry.centroid
    return float(Proj(crs).get_factors(centre.x, centre.y).areal_scale)


def rank_key(feature: PolygonFeature, area: float) -> tuple[int, float, str]:
    """The order in which overlapping municipalities win: priority, then smaller, then id."""
    return (-feature.priority, area, feature.id)


def effective_territories(
    features: Sequence[PolygonFeature], projected: Sequence[shapely.Geometry]
) -> list[shapely.Geometry]:
    """Each municipality's polygon minus the polygons that outrank it where they overlap."""
    order = sorted(range(len(features)), key=lambda i: rank_key(features[i], projected[i].area))
    tree = shapely.STRtree(list(projected))
    rank = {index: position for position, index in enumerate(order)}
    result: list[shapely.Geometry] = list(projected)
    for i in range(len(features)):
        stronger = [
            projected[j]
            for j in tree.query(projected[i], predicate="intersects").tolist()
            if rank[j] < rank[i]
        ]
        if stronger:
            result[i] = shapely.difference(projected[i], shapely.union_all(stronger))
    return result


def overlap_table(
    municipalities: Sequence[PolygonFeature],
    exchanges: Sequence[PolygonFeature],
    thresholds: SliverThresholds = SliverThresholds(),
    crs: str = EQUAL_AREA_CRS,
) -> tuple[dict[str, ExchangeOverlap], dict[str, float], list[str]]:
    """The coverage table by exchange id, each municipality's own area (km²), and warnings."""
    projected = [project(m.geometry, crs) for m in municipalities]
    territories = effective_territories(municipalities, projected)
    tree = shapely.STRtree(territories)
    rows: dict[str, ExchangeOverlap] = {}
    warnings: list[str] = []
    for exchange in exchanges:
        shape_m = project(exchange.geometry, crs)
        to_km2 = 1.0 / (M2_PER_KM2 * areal_scale(exchange.geometry, crs))
        exchange_km2 = shape_m.area * to_km2
        shares: list[MunicipalityShare] = []
        for j in tree.query(shape_m, predicate="intersects").tolist():
            km2 = shapely.intersection(shape_m, territories[j]).area * to_km2
            share = km2 / exchange_km2
            if km2 < thresholds.min_km2 or share < thresholds.min_share:
                continue
            shares.append(MunicipalityShare(municipalities[j].id, km2, share))
        shares.sort(key=lambda s: (-s.share, s.id))
        if not shares:
            warnings.append(f"exchange {exchange.id!r} lies outside every municipality")
        rows[exchange.id] = ExchangeOverlap(
            exchange=exchange.id,
            name=exchange.name,
            province=exchange.province,
            km2=exchange_km2,
            classification="inside" if len(shares) == 1 else "shared",
            municipalities=tuple(shares),
        )
    areas = {
        m.id: p.area / (M2_PER_KM2 * areal_scale(m.geometry, crs))
        for m, p in zip(municipalities, projected, strict=True)
    }
    return rows, areas, warnings
