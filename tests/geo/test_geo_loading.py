"""Loading geodata: the demo set loads; every kind of bad data is refused with file, feature and
problem; repairs happen only on request; unmatched exchange areas are warnings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from geo_testing import (
    CSV_HEADER,
    feature,
    small_exchanges,
    small_municipalities,
    square,
    write_collection,
    write_csv,
)

from geo.cnac import normalise_exchange_name, read_co_codes
from geo.errors import GeoDataError
from geo.index import GeoIndex
from geo.loading import read_exchanges, read_municipalities
from geo.model import PlacementFailure
from geo.sources import GeoSources

BOWTIE = [[[-60.4, 46.0], [-60.2, 46.2], [-60.2, 46.0], [-60.4, 46.2], [-60.4, 46.0]]]


def refusal(path: Path, features: list[dict[str, Any]], *, exchanges: bool = False) -> str:
    write_collection(path, features)
    reader = read_exchanges if exchanges else read_municipalities
    with pytest.raises(GeoDataError) as caught:
        reader(path)
    return str(caught.value)


def test_demo_data_loads_with_every_feature(demo_index: GeoIndex) -> None:
    assert len(demo_index.municipalities) == 20
    assert len(demo_index.exchanges) == 73
    assert demo_index.warnings == ()
    assert demo_index.co_codes_date == "2024-10-10"
    assert demo_index.municipalities["eskasoni"].priority == 10


def test_invalid_geometry_is_refused_with_the_geos_reason(tmp_path: Path) -> None:
    features = small_municipalities()
    features[1] = feature({"id": "east", "name": "East", "priority": 0}, BOWTIE)
    message = refusal(tmp_path / "m.geojson", features)
    assert "m.geojson" in message
    assert "'east'" in message
    assert "Self-intersection" in message


def test_invalid_geometry_is_repaired_only_when_asked_with_a_warning(tmp_path: Path) -> None:
    path = write_collection(
        tmp_path / "m.geojson", [feature({"id": "bow", "name": "Bow", "priority": 0}, BOWTIE)]
    )
    loaded = read_municipalities(path, repair=True)
    assert loaded.features[0].geometry.is_valid
    assert len(loaded.warnings) == 1
    assert "repaired" in loaded.warnings[0] and "Self-intersection" in loaded.warnings[0]


def test_coordinates_outside_lon_lat_range_are_refused(tmp_path: Path) -> None:
    features = small_municipalities()
    features[0] = feature({"id": "west", "name": "W", "priority": 0}, square(-60.4, 95.0, 0.2))
    message = refusal(tmp_path / "m.geojson", features)
    assert "'west'" in message and "outside the lon/lat range" in message


def test_coordinates_given_as_lat_lon_are_refused(tmp_path: Path) -> None:
    swapped = [[[y, x] for x, y in ring] for ring in square(-60.4, 46.0, 0.2)]
    features = [feature({"id": "west", "name": "W", "priority": 0}, swapped)]
    message = refusal(tmp_path / "m.geojson", features)
    assert "'west'" in message and "lat/lon" in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    features = small_municipalities()
    features[2]["properties"]["id"] = "west"
    message = refusal(tmp_path / "m.geojson", features)
    assert "feature #3" in message and "duplicate id 'west'" in message


@pytest.mark.parametrize("missing", ["id", "name", "priority"])
def test_missing_municipality_properties_are_refused(tmp_path: Path, missing: str) -> None:
    features = small_municipalities()
    del features[0]["properties"][missing]
    message = refusal(tmp_path / "m.geojson", features)
    assert "feature #1" in message and f"missing property {missing}" in message


def test_missing_exchange_name_is_refused(tmp_path: Path) -> None:
    features = small_exchanges()
    del features[1]["properties"]["name"]
    message = refusal(tmp_path / "x.geojson", features, exchanges=True)
    assert "x.geojson: feature #2 (id 'st-ann-s'): missing property name" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    features = small_municipalities()
    del features[0]["properties"]["name"]
    features[2]["properties"]["id"] = "east"
    with pytest.raises(GeoDataError) as caught:
        read_municipalities(write_collection(tmp_path / "m.geojson", features))
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', "has no features"),
    ],
)
def test_files_that_are_not_feature_collections_are_refused(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "m.geojson"
    path.write_text(text)
    with pytest.raises(GeoDataError, match=problem):
        read_municipalities(path)


def test_non_polygon_geometry_is_refused(tmp_path: Path) -> None:
    features = [feature({"id": "p", "name": "P", "priority": 0}, [-60.0, 46.0], kind="Point")]
    assert "Polygon or MultiPolygon, not 'Point'" in refusal(tmp_path / "m.geojson", features)


def test_csv_with_the_wrong_header_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "codes.csv", header="NPA,NXX,State,Area,Prov")
    with pytest.raises(GeoDataError) as caught:
        read_co_codes(path)
    assert "codes.csv: line 1: wrong header" in str(caught.value)


def test_csv_date_row_is_read_as_the_snapshot_date(tmp_path: Path) -> None:
    codes = read_co_codes(write_csv(tmp_path / "codes.csv"))
    assert codes.snapshot_date == "2024-10-10"
    assert [c.npa_nxx for c in codes.codes] == ["902201", "902202", "902203", "902204"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("90,201,In Service,Westville,NS,T,1,", "is not two 3-digit codes"),
        ("902,201,In Service,,NS,T,1,", "has no exchange area"),
        ("902,201", "columns"),
    ],
)
def test_malformed_csv_rows_are_refused_with_their_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    path = write_csv(tmp_path / "codes.csv", rows=["902,299,In Service,Westville,NS,T,1,", row])
    with pytest.raises(GeoDataError) as caught:
        read_co_codes(path)
    assert "line 4" in str(caught.value) and problem in str(caught.value)


def test_duplicate_npa_nxx_is_refused(tmp_path: Path) -> None:
    rows = ["902,201,In Service,Westville,NS,T,1,", "902,201,In Service,Westville,NS,T,1,"]
    with pytest.raises(GeoDataError, match="duplicate NPA-NXX 902-201"):
        read_co_codes(write_csv(tmp_path / "codes.csv", rows=rows))


def test_codes_of_an_area_without_polygon_are_a_warning_not_a_crash(
    small_sources: GeoSources, build_small: Callable[[GeoSources], GeoIndex]
) -> None:
    index = build_small(small_sources)
    assert any("'Nowhere Harbour'" in w and "no exchange polygon" in w for w in index.warnings)
    placement = index.place_number("902-204-1234")
    assert placement.failure is PlacementFailure.NO_POLYGON
    assert placement.exchange is None


def test_exchange_areas_match_polygons_despite_case_and_abbreviations(
    small_sources: GeoSources, build_small: Callable[[GeoSources], GeoIndex]
) -> None:
    index = build_small(small_sources)
    placement = index.place_number("+1 902 202 0000")
    assert placement.exchange is not None and placement.exchange.exchange == "st-ann-s"
    assert index.npa_nxx_by_exchange() == {"st-ann-s": ("902202",), "westville": ("902201",)}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ST. ANN'S BAY", "St. Ann's Bay"),
        ("Chéticamp", "CHETICAMP"),
        ("Saint Peters", "St. Peters"),
        ("Mt Albert", "Mount-Albert"),
        ("Sainte-Anne", "Ste Anne"),
    ],
)
def test_exchange_name_normalisation(a: str, b: str) -> None:
    assert normalise_exchange_name(a) == normalise_exchange_name(b)


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(GeoDataError, match=r"nothing\.geojson: -: file not found"):
        read_municipalities(tmp_path / "nothing.geojson")


def test_csv_header_must_be_the_cnac_one_even_with_extra_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "codes.csv", header=CSV_HEADER + ",Extra")
    assert len(read_co_codes(path).codes) == 4
