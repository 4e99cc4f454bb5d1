"""Small hand-made geodata files for the geo tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSV_HEADER = "NPA,CO Code (NXX),Status,Exchange Area,Province,Company,OCN,Remarks"


def square(x0: float, y0: float, size: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


def feature(props: dict[str, Any], coordinates: Any, kind: str = "Polygon") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def write_collection(path: Path, features: Sequence[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def small_municipalities() -> list[dict[str, Any]]:
    """Two side-by-side towns near Sydney NS, one with a hole, and a reserve overlapping both."""
    west = square(-60.4, 46.0, 0.2)
    west.append([[-60.35, 46.05], [-60.3, 46.05], [-60.3, 46.1], [-60.35, 46.1], [-60.35, 46.05]])
    return [
        feature({"id": "west", "name": "West Town", "province": "NS", "priority": 0}, west),
        feature(
            {"id": "east", "name": "East Town", "province": "NS", "priority": 0},
            square(-60.2, 46.0, 0.2),
        ),
        feature(
            {"id": "reserve", "name": "Reserve", "province": "NS", "priority": 10},
            square(-60.22, 46.15, 0.04),
        ),
    ]


def small_exchanges() -> list[dict[str, Any]]:
    return [
        feature(
            {"id": "westville", "name": "Westville", "province": "NS"}, square(-60.4, 46.0, 0.15)
        ),
        feature(
            {"id": "st-ann-s", "name": "St. Ann's", "province": "NS"},
            [[[-60.25, 46.0], [-60.0, 46.0], [-60.0, 46.2], [-60.25, 46.2], [-60.25, 46.0]]],
        ),
    ]


SMALL_CSV_ROWS = (
    "902,201,In Service,Westville,NS,Telco,0001,",
    "902,202,In Service,ST ANNS,NS,Telco,0001,",
    "902,203,Assigned,Westville,NS,Telco,0001,",
    "902,204,In Service,Nowhere Harbour,NS,Telco,0001,",
)


def write_csv(path: Path, rows: Sequence[str] = SMALL_CSV_ROWS, header: str = CSV_HEADER) -> Path:
    path.write_text("\n".join([header, ",,,,,,,2024-10-10", *rows]) + "\n", encoding="utf-8")
    return path
