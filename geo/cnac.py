"""The CNAC central office code file: NPA-NXX → exchange area, and matching areas to polygons.

CNAC's ``COCodeStatus_ALL.csv`` has a header line, then a line carrying the snapshot date in
its last column, then one row per code. Exchange areas are named, not numbered, so they are
matched to exchange polygons by a normalised name within the province: case, accents,
punctuation, "St."/"Saint" style abbreviations and spacing do not matter.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from geo.errors import GeoDataError, Problem, read_geodata_text

EXPECTED_HEADER = ("NPA", "CO Code (NXX)", "Status", "Exchange Area", "Province")
IN_SERVICE = "In Service"

_ABBREVIATIONS = {
    "st": "saint",
    "ste": "sainte",
    "mt": "mount",
    "pt": "point",
    "ft": "fort",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
}


def normalise_exchange_name(name: str) -> str:
    """A matching key for an exchange-area name: ``"ST. ANN'S BAY"`` → ``"saint anns bay"``."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = plain.replace("&", " and ").replace("'", "").replace("\u2019", "")
    words = re.split(r"[^0-9a-z]+", plain)
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words if w)


@dataclass(frozen=True, slots=True)
class CoCode:
    npa_nxx: str
    status: str
    exchange_area: str
    province: str


@dataclass(frozen=True, slots=True)
class CoCodeFile:
    codes: tuple[CoCode, ...]
    snapshot_date: str | None


def read_co_codes(path: Path) -> CoCodeFile:
    """Read and check a CNAC CO code CSV; refuses a wrong header and malformed rows."""
    file = str(path)
    text = read_geodata_text(path, encoding="utf-8-sig")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise GeoDataError([Problem(file, "-", f"not a CSV file: {exc}")]) from None
    if not rows:
        raise GeoDataError([Problem(file, "line 1", "empty file, expected a CNAC header")])
    header = tuple(cell.strip() for cell in rows[0][: len(EXPECTED_HEADER)])
    if header != EXPECTED_HEADER:
        raise GeoDataError(
            [
                Problem(
                    file,
                    "line 1",
                    f"wrong header {','.join(rows[0])!r}; expected it to start with "
                    f"{','.join(EXPECTED_HEADER)!r}",
                )
            ]
        )
    problems: list[Problem] = []
    codes: list[CoCode] = []
    seen: dict[str, int] = {}
    snapshot_date: str | None = None
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if not any(cell.strip() for cell in row[:5]):
            snapshot_date = next((c.strip() for c in reversed(row) if c.strip()), None)
            continue
        where = f"line {line}"
        if len(row) < len(EXPECTED_HEADER):
            problems.append(Problem(file, where, f"{len(row)} columns, expected at least 5"))
            continue
        npa, nxx, status, area, province = (cell.strip() for cell in row[:5])
        if not (re.fullmatch(r"[2-9]\d\d", npa) and re.fullmatch(r"[2-9]\d\d", nxx)):
            problems.append(
                Problem(file, where, f"NPA-NXX {npa!r}-{nxx!r} is not two 3-digit codes")
            )
            continue
        if not area:
            problems.append(Problem(file, where, f"{npa}-{nxx} has no exchange area"))
            continue
        key = npa + nxx
        if key in seen:
            problems.append(
                Problem(file, where, f"duplicate NPA-NXX {npa}-{nxx} (line {seen[key]})")
            )
            continue
        seen[key] = line
        codes.append(CoCode(key, status, area, province))
    if problems:
        raise GeoDataError(problems)
    return CoCodeFile(tuple(codes), snapshot_date)


@dataclass(frozen=True, slots=True)
class CodeMatch:
    """Each code's exchange id (``None`` when no polygon carries its area) and the warnings."""

    exchange_of: Mapping[str, str | None]
    warnings: tuple[str, ...]


def match_codes_to_exchanges(
    co_file: CoCodeFile,
    path: Path,
    exchanges: Mapping[str, tuple[str, str]],
) -> CodeMatch:
    """Map each code's exchange area to an exchange id; ``exchanges`` is id → (name, province).

    Exchange areas with no polygon are reported as warnings (their codes cannot be placed),
    not refused: CNAC lists every area of a province, a deployment maps only its own.
    """
    by_key: dict[tuple[str, str], str] = {}
    by_name: dict[str, list[str]] = {}
    for exchange_id, (name, province) in exchanges.items():
        norm = normalise_exchange_name(name)
        by_key[(province.upper(), norm)] = exchange_id
        by_name.setdefault(norm, []).append(exchange_id)
    exchange_of: dict[str, str | None] = {}
    unmatched: dict[tuple[str, str], int] = {}
    for code in co_file.codes:
        norm = normalise_exchange_name(code.exchange_area)
        found = by_key.get((code.province.upper(), norm))
        if found is None:
            candidates = by_name.get(norm, [])
            found = candidates[0] if len(candidates) == 1 else None
        exchange_of[code.npa_nxx] = found
        if found is None:
            area = (code.exchange_area, code.province)
            unmatched[area] = unmatched.get(area, 0) + 1
    warnings = tuple(
        f"{path}: exchange area {area!r} ({province}) has no exchange polygon; "
        f"its {count} code(s) cannot be placed"
        for (area, province), count in sorted(unmatched.items())
    )
    return CodeMatch(exchange_of, warnings)
