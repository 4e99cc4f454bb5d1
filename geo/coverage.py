"""The coverage table as text, CSV or JSON (the Cape Breton plan's exchange table, computed)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping

from geo.model import ExchangeOverlap, Municipality


def _sorted(rows: Iterable[ExchangeOverlap]) -> list[ExchangeOverlap]:
    return sorted(rows, key=lambda r: (r.province, r.name))


def coverage_json(rows: Iterable[ExchangeOverlap], warnings: Iterable[str] | None = None) -> str:
    """``{"exchanges": [...]}``, plus ``"warnings"`` (data problems) when they are given."""
    document: dict[str, object] = {
        "exchanges": [
            {
                "exchange": row.name,
                "id": row.exchange,
                "province": row.province,
                "km2": round(row.km2, 3),
                "classification": row.classification,
                "municipalities": [
                    {"id": m.id, "km2": round(m.km2, 3), "share": round(m.share, 4)}
                    for m in row.municipalities
                ],
            }
            for row in _sorted(rows)
        ]
    }
    if warnings is not None:
        document["warnings"] = list(warnings)
    return json.dumps(document, indent=2)


def coverage_csv(rows: Iterable[ExchangeOverlap]) -> str:
    """One line per exchange and municipality (an exchange inside one municipality: one line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "exchange_id",
            "exchange",
            "province",
            "exchange_km2",
            "classification",
            "municipality_id",
            "municipality_km2",
            "share",
        ]
    )
    for row in _sorted(rows):
        for share in row.municipalities or ():
            writer.writerow(
                [
                    row.exchange,
                    row.name,
                    row.province,
                    f"{row.km2:.3f}",
                    row.classification,
                    share.id,
                    f"{share.km2:.3f}",
                    f"{share.share:.4f}",
                ]
            )
        if not row.municipalities:
            writer.writerow(
                [
                    row.exchange,
                    row.name,
                    row.province,
                    f"{row.km2:.3f}",
                    row.classification,
                    "",
                    "",
                    "",
                ]
            )
    return out.getvalue()


def coverage_text(
    rows: Iterable[ExchangeOverlap],
    municipalities: Mapping[str, Municipality],
    warnings: Iterable[str] = (),
) -> str:
    """A table a person reads: exchange, km², inside/shared, which municipalities and shares."""
    ordered = _sorted(rows)
    lines = [f"{'Exchange':<20} {'Prov':<4} {'km²':>9}  {'':<7} Municipalities (share of exchange)"]
    for row in ordered:
        parts = (
            ", ".join(
                f"{municipalities[m.id].name if m.id in municipalities else m.id} "
                f"{m.share * 100:.1f}% ({m.km2:.1f} km²)"
                for m in row.municipalities
            )
            or "outside every municipality"
        )
        lines.append(
            f"{row.name:<20} {row.province:<4} {row.km2:>9.1f}  {row.classification:<7} {parts}"
        )
    inside = sum(1 for r in ordered if r.classification == "inside")
    lines.append("")
    lines.append(
        f"{len(ordered)} exchanges: {inside} inside one municipality, "
        f"{len(ordered) - inside} shared"
    )
    lines.extend(f"warning: {w}" for w in warnings)
    return "\n".join(lines) + "\n"
