"""``ivr311 geo coverage|locate|number`` end to end."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from geo_testing import (
    feature,
    small_exchanges,
    small_municipalities,
    write_collection,
    write_csv,
)

from geo.index import GeoIndex
from geo.sources import GeoSources
from ivr311.cli import main

IVR311 = Path(sys.executable).with_name("ivr311")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI points structlog at the captured stderr; later tests must not log into it."""
    yield
    structlog.reset_defaults()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["geo", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_coverage_json_has_the_documented_shape(
    capsys: pytest.CaptureFixture[str], demo_index: GeoIndex
) -> None:
    code, out, _ = run(capsys, "coverage", "--format", "json")
    assert code == 0
    rows = json.loads(out)["exchanges"]
    assert len(rows) == len(demo_index.exchanges)
    gormley = next(r for r in rows if r["exchange"] == "Gormley")
    assert gormley["classification"] == "shared"
    assert {m["id"] for m in gormley["municipalities"]} == {"whitchurch-stouffville", "markham"}
    assert set(gormley["municipalities"][0]) == {"id", "km2", "share"}
    assert isinstance(gormley["km2"], float)


def test_coverage_csv_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "coverage", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["classification"] for r in rows} == {"inside", "shared"}
    code, out, _ = run(capsys, "coverage")
    assert code == 0
    assert "Glace Bay" in out and "73 exchanges:" in out


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_coverage_map_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    out_file = tmp_path / f"map{suffix}"
    code, _, err = run(capsys, "coverage", "--format", "csv", "--map", str(out_file))
    assert code == 0 and str(out_file) in err
    data = out_file.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:2000]
    if suffix == ".svg":
        assert b"Pickering" in data and b"shared zone" in data


def test_locate(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "locate", "43.8384", "-79.0868")[1] == "pickering\tCity of Pickering\n"
    assert run(capsys, "locate", "45.6169", "-61.3647")[1] == "outside every municipality\n"
    _, out, _ = run(capsys, "locate", "43.6532", "-79.3832", "--json")
    assert json.loads(out) == {"municipality": "toronto"}
    assert json.loads(run(capsys, "locate", "0", "0", "--json")[1]) == {"municipality": None}


def test_number(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "number", "905-430-0123")
    assert code == 0
    assert "exchange Whitby (whitby), shared" in out and "Town of Ajax" in out
    code, out, _ = run(capsys, "number", "anonymous")
    assert code == 1 and "withheld" in out
    code, out, _ = run(capsys, "number", "+19054300123", "--json")
    placed = json.loads(out)
    assert placed["exchange"] == "whitby" and placed["municipalities"][0]["id"] == "whitby"


def test_other_data_files_and_refusals(
    capsys: pytest.CaptureFixture[str], small_sources: GeoSources, tmp_path: Path
) -> None:
    files = [
        "--municipalities",
        str(small_sources.municipalities),
        "--exchanges",
        str(small_sources.exchanges),
        "--co-codes",
        str(small_sources.co_codes),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    code, out, _ = run(capsys, "number", "9022020000", *files)
    assert code == 0 and "St. Ann's" in out
    code, out, _ = run(capsys, "coverage", *files)
    assert "Nowhere Harbour" in out
    code, out, _ = run(capsys, "coverage", "--format", "json", *files)
    assert any("Nowhere Harbour" in w for w in json.loads(out)["warnings"])
    bad = small_municipalities()
    bad.append(
        feature({"id": "west", "name": "Again", "priority": 0}, [[[0, 0], [1, 0], [0, 1], [0, 0]]])
    )
    write_collection(small_sources.municipalities, bad)
    code, _, err = run(capsys, "locate", "46.0", "-60.3", *files)
    assert code == 2
    assert "municipalities.geojson: feature #4 (id 'west'): duplicate id 'west'" in err


def test_the_geodata_directory_comes_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "site-data"
    data.mkdir()
    write_collection(data / "municipalities.geojson", small_municipalities())
    write_collection(data / "exchanges.geojson", small_exchanges())
    write_csv(data / "cnac_co_codes.csv")
    monkeypatch.setenv("IVR311_GEODATA_DIR", str(data))
    monkeypatch.setenv("IVR311_CACHE_DIR", str(tmp_path / "cache"))
    code, out, _ = run(capsys, "locate", "46.1", "-60.1", "--json")
    assert (code, json.loads(out)) == (0, {"municipality": "east"})
    code, out, _ = run(capsys, "number", "9022020000")
    assert code == 0 and "St. Ann's" in out

    monkeypatch.setenv("IVR311_GEODATA_DIR", str(tmp_path / "missing"))
    code, _, err = run(capsys, "locate", "46.1", "-60.1")
    assert code == 2
    assert str(tmp_path / "missing" / "municipalities.geojson") in err


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(IVR311), "geo", "locate", "46.14", "-60.19", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout) == {"municipality": "cbrm"}


@pytest.mark.parametrize(
    ("lat", "lon", "said"),
    [
        ("91", "0", "latitude 91 is out of range (-90 to 90); the values look swapped"),
        ("43.9", "-200", "longitude -200 is out of range (-180 to 180)"),
        ("-79.0868", "43.8384", "did you mean latitude 43.8384, longitude -79.0868?"),
        ("nan", "0", "finite"),
    ],
)
def test_locate_refuses_coordinates_out_of_range(
    capsys: pytest.CaptureFixture[str], lat: str, lon: str, said: str
) -> None:
    code, out, err = run(capsys, "locate", "--", lat, lon)
    assert (code, out) == (2, "")
    assert said in err


@pytest.mark.parametrize(
    ("name", "fault"),
    [("map", "ending in .svg or .png"), ("no-such-folder/map.svg", "no folder")],
)
def test_coverage_map_path_is_checked_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, fault: str
) -> None:
    code, out, err = run(capsys, "coverage", "--map", str(tmp_path / name))
    assert code == 2 and fault in err and out == ""
    assert sorted(tmp_path.iterdir()) == []


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    coverage = subprocess.Popen(
        [str(IVR311), "geo", "coverage"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert coverage.stdout is not None and coverage.stderr is not None
    coverage.stdout.close()  # as `| head` does once it has read enough
    err = coverage.stderr.read().decode()
    assert coverage.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
