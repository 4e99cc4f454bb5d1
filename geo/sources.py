"""Which files a geodata set is made of (the demo set by default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class GeoSources:
    municipalities: Path = DATA_DIR / "municipalities.geojson"
    exchanges: Path = DATA_DIR / "exchanges.geojson"
    co_codes: Path = DATA_DIR / "cnac_co_codes.csv"

    def paths(self) -> tuple[Path, Path, Path]:
        return (self.municipalities, self.exchanges, self.co_codes)
