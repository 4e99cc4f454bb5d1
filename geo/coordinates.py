"""Checking a latitude/longitude typed by a person before it is looked up.

One check serves every way coordinates come in (``ivr311 geo locate``, ``ivr311 simulate
--lat/--lon``, the admin API): out-of-range values are refused, and when the two look swapped
(longitude given first) the message says so.
"""

from __future__ import annotations

import math

LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)
CANADA_LATITUDES = (41.5, 83.5)
"""Pelee Island (41.7°N) to Cape Columbia (83.1°N), with a margin."""
CANADA_LONGITUDES = (-141.1, -52.5)
"""The Yukon-Alaska boundary (141°W) to Cape Spear (52.6°W), with a margin."""


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _in_canada(lat: float, lon: float) -> bool:
    return _within(lat, CANADA_LATITUDES) and _within(lon, CANADA_LONGITUDES)


def _number(value: float) -> str:
    return f"{value:g}"


def coordinate_problem(lat: float, lon: float) -> str | None:
    """Why ``lat``/``lon`` (WGS84 degrees) cannot be used, or ``None`` when they can.

    Refused: values that are not finite numbers, a latitude outside ±90°, a longitude outside
    ±180°, and a position far outside Canada that lies in Canada once the two are swapped.
    When swapping the two would make them valid, the message says the values look swapped.
    """
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return "latitude and longitude must be finite numbers"
    problems = []
    if not _within(lat, LATITUDE_RANGE):
        problems.append(f"latitude {_number(lat)} is out of range (-90 to 90)")
    if not _within(lon, LONGITUDE_RANGE):
        problems.append(f"longitude {_number(lon)} is out of range (-180 to 180)")
    swapped_valid = _within(lon, LATITUDE_RANGE) and _within(lat, LONGITUDE_RANGE)
    swapped_hint = (
        f"the values look swapped (latitude comes first); did you mean latitude "
        f"{_number(lon)}, longitude {_number(lat)}?"
    )
    if problems:
        message = "; ".join(problems)
        return f"{message}; {swapped_hint}" if swapped_valid else message
    if not _in_canada(lat, lon) and _in_canada(lon, lat):
        where = f"latitude {_number(lat)}, longitude {_number(lon)}"
        return f"{where} is far outside Canada; {swapped_hint}"
    return None
