"""The values the geographic core hands to the rest of ivr311.

Everything here is immutable and cheap to read on the call path: it is computed when a data
set is activated, never during a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Classification = Literal["inside", "shared"]


@dataclass(frozen=True, slots=True)
class Municipality:
    """One municipal polygon's identity (the geometry stays in the index builder)."""

    id: str
    name: str
    province: str
    priority: int
    area_km2: float


@dataclass(frozen=True, slots=True)
class MunicipalityShare:
    """How much of one exchange lies in one municipality."""

    id: str
    km2: float
    share: float


@dataclass(frozen=True, slots=True)
class ExchangeOverlap:
    """One row of the coverage table: an exchange and the municipalities it overlaps.

    ``municipalities`` is sorted by share, largest first, slivers already removed.
    """

    exchange: str
    name: str
    province: str
    km2: float
    classification: Classification
    municipalities: tuple[MunicipalityShare, ...]


class PlacementFailure(StrEnum):
    """Why a calling number could not be placed on the map."""

    WITHHELD = "withheld"
    MALFORMED = "malformed"
    NOT_NANP = "not_nanp"
    UNKNOWN_CODE = "unknown_npa_nxx"
    NOT_IN_SERVICE = "not_in_service"
    NO_POLYGON = "exchange_without_polygon"


@dataclass(frozen=True, slots=True)
class NumberPlacement:
    """What the number index says of one calling number.

    Exactly one of ``exchange`` and ``failure`` is set. ``npa_nxx`` is set whenever the number
    parsed as a NANP number, even when its code is unknown.
    """

    npa_nxx: str | None
    exchange: ExchangeOverlap | None
    failure: PlacementFailure | None
    detail: str
