"""Coordinates typed by a person: out-of-range and swapped values are refused with a reason."""

from __future__ import annotations

import pytest

from geo.coordinates import coordinate_problem


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(43.8384, -79.0868), (46.1368, -60.1942), (0.0, 0.0), (-33.9, 151.2), (90.0, -180.0)],
)
def test_usable_positions_pass(lat: float, lon: float) -> None:
    assert coordinate_problem(lat, lon) is None


def test_out_of_range_values_are_named() -> None:
    assert coordinate_problem(43.9, -200) == "longitude -200 is out of range (-180 to 180)"
    assert coordinate_problem(200, 300) == (
        "latitude 200 is out of range (-90 to 90); longitude 300 is out of range (-180 to 180)"
    )
    assert coordinate_problem(float("inf"), 0) == "latitude and longitude must be finite numbers"


def test_swapped_values_are_pointed_out() -> None:
    assert coordinate_problem(13.75, 100.5) is None  # far from Canada either way: not swapped
    out_of_range = coordinate_problem(-100.5, 44.2)
    assert out_of_range == (
        "latitude -100.5 is out of range (-90 to 90); the values look swapped (latitude comes "
        "first); did you mean latitude 44.2, longitude -100.5?"
    )
    # Both in range, but only the swapped order is in Canada: longitude was given first.
    in_range = coordinate_problem(-79.0868, 43.8384)
    assert in_range is not None
    assert in_range.startswith("latitude -79.0868, longitude 43.8384 is far outside Canada")
    assert in_range.endswith("did you mean latitude 43.8384, longitude -79.0868?")
