"""The disk cache: a second load reads it; changed inputs or a corrupt file rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest
from geo_testing import small_exchanges, write_collection
from structlog.testing import capture_logs

import geo.index
from geo.index import cache_path, load_geo_index
from geo.sources import GeoSources


def test_a_second_load_comes_from_the_cache(
    small_sources: GeoSources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_geo_index(small_sources, cache_dir=tmp_path / "c")

    def no_build(*args: object) -> None:
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(geo.index, "build_geo_index", no_build)
    again = load_geo_index(small_sources, cache_dir=tmp_path / "c")
    assert again.content_hash == first.content_hash
    assert again.locate(46.02, -60.38) == "west"


def test_changed_input_changes_the_hash(small_sources: GeoSources, tmp_path: Path) -> None:
    first = load_geo_index(small_sources, cache_dir=tmp_path / "c")
    exchanges = small_exchanges()
    exchanges[0]["properties"]["name"] = "Westville Centre"
    write_collection(small_sources.exchanges, exchanges)
    second = load_geo_index(small_sources, cache_dir=tmp_path / "c")
    assert second.content_hash != first.content_hash
    assert second.exchanges["westville"].name == "Westville Centre"


def test_a_corrupt_cache_is_rebuilt_with_a_warning(
    small_sources: GeoSources, tmp_path: Path
) -> None:
    first = load_geo_index(small_sources, cache_dir=tmp_path / "c")
    path = cache_path(tmp_path / "c", first.content_hash)
    path.write_bytes(b"not a pickle")
    with capture_logs() as logs:
        rebuilt = load_geo_index(small_sources, cache_dir=tmp_path / "c")
    assert any(entry["event"] == "geo_cache_unreadable" for entry in logs)
    assert rebuilt.locate(46.02, -60.38) == "west"
    assert path.read_bytes() != b"not a pickle"


def test_the_cache_directory_comes_from_the_environment(
    small_sources: GeoSources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR311_CACHE_DIR", str(tmp_path / "env-cache"))
    index = load_geo_index(small_sources)
    assert cache_path(tmp_path / "env-cache", index.content_hash).is_file()
