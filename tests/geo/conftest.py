"""Fixtures for the geographic core: the demo index (built once, from the disk cache) and
small hand-made data sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from geo_testing import small_exchanges, small_municipalities, write_collection, write_csv

from geo.index import GeoIndex, load_geo_index
from geo.sources import GeoSources


@pytest.fixture(scope="session")
def demo_index() -> GeoIndex:
    return load_geo_index()


@pytest.fixture
def small_sources(tmp_path: Path) -> GeoSources:
    return GeoSources(
        write_collection(tmp_path / "municipalities.geojson", small_municipalities()),
        write_collection(tmp_path / "exchanges.geojson", small_exchanges()),
        write_csv(tmp_path / "codes.csv"),
    )


@pytest.fixture
def build_small(tmp_path: Path) -> Callable[[GeoSources], GeoIndex]:
    def build(sources: GeoSources) -> GeoIndex:
        return load_geo_index(sources, cache_dir=tmp_path / "cache")

    return build
