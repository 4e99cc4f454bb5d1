"""The point index gives exactly the shapely answer: far inside, on and near edges and vertices,
in holes, in the water and outside every polygon; overlaps go to priority, then the smaller
polygon."""

from __future__ import annotations

from collections.abc import Callable

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.index import GeoIndex
from geo.sources import GeoSources

# Demo regions (lon_min, lat_min, lon_max, lat_max), with a margin around the polygons.
REGIONS = ((-79.7, 43.5, -78.2, 45.0), (-61.7, 45.4, -59.6, 47.1))
NUDGES = (0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-7, -1e-7, 1e-5, -1e-5)
SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def reference(index: GeoIndex, lat: float, lon: float) -> str | None:
    """Independent exact answer: ``covers`` on each polygon, strongest first."""
    point = Point(lon, lat)
    for municipality_id, polygon in index.ranked_municipalities():
        if polygon.covers(point):
            return municipality_id
    return None


@st.composite
def region_points(draw: st.DrawFn) -> tuple[float, float]:
    lon_min, lat_min, lon_max, lat_max = draw(st.sampled_from(REGIONS))
    lon = draw(st.floats(lon_min, lon_max, allow_nan=False))
    lat = draw(st.floats(lat_min, lat_max, allow_nan=False))
    return lat, lon


def boundary_points(index: GeoIndex) -> st.SearchStrategy[tuple[float, float]]:
    """Points on an edge of some polygon (exactly, or nudged by up to 1e-5°), or on a vertex."""
    rings = [
        shapely.get_coordinates(ring)
        for _, polygon in index.ranked_municipalities()
        for part in shapely.get_parts(polygon).tolist()
        for ring in (part.exterior, *part.interiors)
    ]

    @st.composite
    def strategy(draw: st.DrawFn) -> tuple[float, float]:
        coords = draw(st.sampled_from(rings))
        i = draw(st.integers(0, len(coords) - 2))
        t = draw(st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)))
        (x0, y0), (x1, y1) = coords[i], coords[i + 1]
        lon = x0 + t * (x1 - x0) + draw(st.sampled_from(NUDGES))
        lat = y0 + t * (y1 - y0) + draw(st.sampled_from(NUDGES))
        return float(lat), float(lon)

    return strategy()


@SETTINGS
@given(point=region_points())
def test_random_points_agree_with_shapely(demo_index: GeoIndex, point: tuple[float, float]) -> None:
    lat, lon = point
    assert demo_index.locate(lat, lon) == reference(demo_index, lat, lon)


@SETTINGS
@given(data=st.data())
def test_points_on_and_near_edges_and_vertices_agree_with_shapely(
    demo_index: GeoIndex, data: st.DataObject
) -> None:
    lat, lon = data.draw(boundary_points(demo_index))
    assert demo_index.locate(lat, lon) == reference(demo_index, lat, lon)


def test_every_vertex_agrees_with_shapely(demo_index: GeoIndex) -> None:
    for _, polygon in demo_index.ranked_municipalities():
        for lon, lat in shapely.get_coordinates(polygon)[::7]:
            assert demo_index.locate(lat, lon) == reference(demo_index, lat, lon)


def test_known_places(demo_index: GeoIndex) -> None:
    assert demo_index.locate(43.8384, -79.0868) == "pickering"
    assert demo_index.locate(43.6532, -79.3832) == "toronto"
    # Eskasoni lies inside the CBRM polygon; its higher priority wins.
    eskasoni = dict(demo_index.ranked_municipalities())["eskasoni"].representative_point()
    assert demo_index.locate(eskasoni.y, eskasoni.x) == "eskasoni"
    # Port Hawkesbury is a hole, the Atlantic is water, Winnipeg is far away.
    assert demo_index.locate(45.6169, -61.3647) is None
    assert demo_index.locate(46.5, -59.0) is None
    assert demo_index.locate(49.9, -97.1) is None
    assert demo_index.locate(float("nan"), -79.0) is None


def test_holes_overlaps_and_shared_edges_in_a_small_data_set(
    small_sources: GeoSources, build_small: Callable[[GeoSources], GeoIndex]
) -> None:
    index = build_small(small_sources)
    assert index.locate(46.02, -60.38) == "west"
    assert index.locate(46.07, -60.32) is None  # in west's hole
    assert index.locate(46.05, -60.35) == "west"  # on the hole's edge: edges count as inside
    # On the shared edge both cover the point: the smaller polygon (west has a hole) wins.
    assert index.locate(46.1, -60.2) == "west"
    assert index.locate(46.17, -60.2) == "reserve"  # priority 10 over both towns
    assert index.locate(46.3, -60.2) is None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lon=st.floats(-60.45, -59.95), lat=st.floats(45.95, 46.25))
def test_small_data_set_agrees_with_shapely(
    small_sources: GeoSources,
    build_small: Callable[[GeoSources], GeoIndex],
    lon: float,
    lat: float,
) -> None:
    index = build_small(small_sources)
    assert index.locate(lat, lon) == reference(index, lat, lon)
