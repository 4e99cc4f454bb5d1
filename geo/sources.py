"""Which files a geodata set is made of: the directory named by ``IVR311_GEODATA_DIR``, else the
demo set shipped in ``geo/data``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
GEODATA_DIR_ENV = "IVR311_GEODATA_DIR"
MUNICIPALITIES_FILE = "municipalities.geojson"
EXCHANGES_FILE = "exchanges.geojson"
CO_CODES_FILE = "cnac_co_codes.csv"


def configured_data_dir() -> Path:
    """The geodata directory every command and the controller read unless told otherwise."""
    configured = os.environ.get(GEODATA_DIR_ENV, "").strip()
    return Path(configured) if configured else DATA_DIR


@dataclass(frozen=True, slots=True)
class GeoSources:
    municipalities: Path = field(
        default_factory=lambda: configured_data_dir() / MUNICIPALITIES_FILE
    )
    exchanges: Path = field(default_factory=lambda: configured_data_dir() / EXCHANGES_FILE)
    co_codes: Path = field(default_factory=lambda: configured_data_dir() / CO_CODES_FILE)

    def paths(self) -> tuple[Path, Path, Path]:
        return (self.municipalities, self.exchanges, self.co_codes)
