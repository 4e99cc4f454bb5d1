"""What the rules engine needs from the geographic index.

``geo.index.GeoIndex`` satisfies this protocol; naming only the members used here keeps the
engine's dependency on ``geo`` narrow and lets tests supply small hand-made indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from geo.model import ExchangeOverlap, Municipality, NumberPlacement


class GeoLookup(Protocol):
    @property
    def municipalities(self) -> Mapping[str, Municipality]: ...

    @property
    def exchanges(self) -> Mapping[str, ExchangeOverlap]: ...

    @property
    def content_hash(self) -> str: ...

    def locate(self, lat: float, lon: float) -> str | None: ...

    def place_number(self, raw: str | None) -> NumberPlacement: ...

    def npa_nxx_by_exchange(self) -> Mapping[str, tuple[str, ...]]: ...
