"""The overlap table against an independent computation: geodesic areas (pyproj.Geod) of the
lon/lat intersections, with overlaps between municipalities resolved the same way."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import shapely
from pyproj import Geod

from geo.index import GeoIndex, load_geo_index
from geo.loading import read_exchanges
from geo.overlap import SliverThresholds
from geo.sources import GeoSources

GEOD = Geod(ellps="GRS80")


def geodesic_km2(geometry: shapely.Geometry) -> float:
    total = 0.0
    for part in shapely.get_parts(shapely.segmentize(geometry, 0.002)).tolist():
        if part.geom_type == "Polygon":
            area, _ = GEOD.geometry_area_perimeter(part)
            total += abs(area)
    return total / 1e6


@pytest.fixture(scope="module")
def exchange_shapes() -> dict[str, shapely.Geometry]:
    return {f.id: f.geometry for f in read_exchanges(GeoSources().exchanges).features}


def test_exchange_areas_match_geodesic_areas(
    demo_index: GeoIndex, exchange_shapes: dict[str, shapely.Geometry]
) -> None:
    for exchange_id, row in demo_index.exchanges.items():
        assert row.km2 == pytest.approx(geodesic_km2(exchange_shapes[exchange_id]), rel=2e-3)


def test_municipality_shares_match_geodesic_areas(
    demo_index: GeoIndex, exchange_shapes: dict[str, shapely.Geometry]
) -> None:
    ranked = demo_index.ranked_municipalities()
    territory = {}
    for position, (municipality_id, polygon) in enumerate(ranked):
        stronger = [p for _, p in ranked[:position]]
        territory[municipality_id] = polygon.difference(shapely.union_all(stronger))
    for exchange_id, row in demo_index.exchanges.items():
        for share in row.municipalities:
            expected = geodesic_km2(exchange_shapes[exchange_id].intersection(territory[share.id]))
            assert share.km2 == pytest.approx(expected, rel=5e-3, abs=0.02), (exchange_id, share)
            assert share.share == pytest.approx(share.km2 / row.km2)


def test_rows_are_classified_and_free_of_slivers(demo_index: GeoIndex) -> None:
    for row in demo_index.exchanges.values():
        assert row.classification == ("inside" if len(row.municipalities) == 1 else "shared")
        assert sum(s.share for s in row.municipalities) <= 1.0 + 1e-9
        assert [s.share for s in row.municipalities] == sorted(
            (s.share for s in row.municipalities), reverse=True
        )
        for share in row.municipalities:
            assert share.km2 >= 0.05 and share.share >= 0.005
    assert demo_index.exchanges["glace-bay"].classification == "inside"
    assert {s.id for s in demo_index.exchanges["gormley"].municipalities} == {
        "whitchurch-stouffville",
        "markham",
    }


def test_sliver_thresholds_are_configurable(
    small_sources: GeoSources,
    build_small: Callable[[GeoSources], GeoIndex],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    default = build_small(small_sources)
    assert default.exchanges["st-ann-s"].classification == "shared"
    assert default.exchanges["westville"].classification == "inside"
    coarse = load_geo_index(
        small_sources,
        cache_dir=tmp_path_factory.mktemp("cache"),
        thresholds=SliverThresholds(min_km2=0.05, min_share=0.3),
    )
    assert coarse.exchanges["st-ann-s"].classification == "inside"
    assert coarse.content_hash != default.content_hash
