"""Broken geodata, made by mutating small valid sets: refused with the file named, never a crash.

The index is built from the mutated files, and through ``ivr311 geo coverage`` as an admin
runs it. Either the data is used, or ``GeoDataError`` names the file and the feature; the
command answers 0 or 2 without a traceback.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fuzzing import fuzz_case
from geo_testing import small_exchanges, small_municipalities, write_collection, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import GeoDataError
from geo.index import load_geo_index
from geo.sources import GeoSources
from ivr311.cli import main

FUZZ = settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["Bad Id!", "", "Polygon", "MultiPolygon", "Point", "-60.3"]),
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value, to pick one to replace."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


@st.composite
def broken_collections(draw: st.DrawFn, features: list[dict[str, Any]]) -> Any:
    """A FeatureCollection with one to three values replaced by arbitrary JSON."""
    data: Any = {"type": "FeatureCollection", "features": copy.deepcopy(features)}
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(data)))
        replacement = draw(JSON_VALUES)
        if not path:
            data = replacement
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = replacement
    return data


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    return path


@FUZZ
@given(
    municipalities=broken_collections(small_municipalities()),
    exchanges=broken_collections(small_exchanges()),
)
def test_broken_geodata_is_used_or_refused_naming_the_file(
    municipalities: Any, exchanges: Any, tmp_path: Path
) -> None:
    fuzz_case("geodata")
    sources = GeoSources(
        _write_json(tmp_path / "municipalities.geojson", municipalities),
        _write_json(tmp_path / "exchanges.geojson", exchanges),
        write_csv(tmp_path / "codes.csv"),
    )
    try:
        index = load_geo_index(sources, use_cache=False)
    except GeoDataError as exc:
        assert exc.problems
        assert all(p.file in {str(path) for path in sources.paths()} for p in exc.problems)
    else:
        assert index.municipalities


@settings(FUZZ, max_examples=25)
@given(municipalities=broken_collections(small_municipalities()))
def test_geo_coverage_answers_broken_geodata_without_a_traceback(
    municipalities: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzz_case("geodata-cli")
    _write_json(tmp_path / "municipalities.geojson", municipalities)
    write_collection(tmp_path / "exchanges.geojson", small_exchanges())
    write_csv(tmp_path / "codes.csv")
    code = main(
        [
            "geo",
            "coverage",
            "--municipalities",
            str(tmp_path / "municipalities.geojson"),
            "--exchanges",
            str(tmp_path / "exchanges.geojson"),
            "--co-codes",
            str(tmp_path / "codes.csv"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 2), err
    if code == 2:
        assert "municipalities.geojson" in err


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ('{"type": "FeatureCollection", "features": ' + "[" * 100_000, "nested far too deeply"),
        ("\xff\xfe not text", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_unreadable_geodata_files_are_named(content: str, fault: str, tmp_path: Path) -> None:
    path = tmp_path / "municipalities.geojson"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GeoDataError) as refused:
        load_geo_index(
            GeoSources(
                path,
                write_collection(tmp_path / "exchanges.geojson", small_exchanges()),
                write_csv(tmp_path / "codes.csv"),
            ),
            use_cache=False,
        )
    assert str(path) in str(refused.value) and fault in str(refused.value)


def test_a_municipality_id_no_rule_could_name_is_refused(tmp_path: Path) -> None:
    features = small_municipalities()
    features[0]["properties"]["id"] = "Bad Id!"
    with pytest.raises(GeoDataError, match=r"feature #1.*'Bad Id!' is not an id"):
        load_geo_index(
            GeoSources(
                write_collection(tmp_path / "municipalities.geojson", features),
                write_collection(tmp_path / "exchanges.geojson", small_exchanges()),
                write_csv(tmp_path / "codes.csv"),
            ),
            use_cache=False,
        )
