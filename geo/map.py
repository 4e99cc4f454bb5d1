"""The coverage map (SVG or PNG, matplotlib): municipalities, exchange lines and shared zones.

One panel per province (the demo regions are a thousand kilometres apart). Municipalities are
filled and named; exchange boundaries are dark lines; a *shared zone* — the part of a shared
exchange that lies outside the municipality holding most of it, where a 311 call reaches a
neighbour's centre — is hatched.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import shapely
from matplotlib.axes import Axes
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import Polygon

from geo.index import GeoIndex
from geo.loading import PolygonalGeometry, read_exchanges
from geo.palette import municipality_colour
from geo.sources import GeoSources

PROVINCE_NAMES = {"ON": "Ontario (Durham Region and neighbours)", "NS": "Nova Scotia (Cape Breton)"}


def short_name(name: str) -> str:
    """``"Town of Whitchurch-Stouffville"`` → ``"Whitchurch-Stouffville"``: labels must fit."""
    return re.sub(r"^(City|Town|Township|Municipality) of (the )?", "", name)


def _patch(geometry: PolygonalGeometry, **style: object) -> PathPatch | None:
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    move, line, close = int(MplPath.MOVETO), int(MplPath.LINETO), int(MplPath.CLOSEPOLY)
    for polygon in shapely.get_parts(geometry).tolist():
        if not isinstance(polygon, Polygon) or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            coords = list(ring.coords)
            vertices.extend(coords)
            codes.extend([move] + [line] * (len(coords) - 2) + [close])
    if not vertices:
        return None
    return PathPatch(MplPath(vertices, codes), **style)


def _add(ax: Axes, geometry: PolygonalGeometry, **style: object) -> None:
    patch = _patch(geometry, **style)
    if patch is not None:
        ax.add_patch(patch)


def _shared_zones(
    index: GeoIndex, exchanges: dict[str, PolygonalGeometry]
) -> list[PolygonalGeometry]:
    territory = dict(index.ranked_municipalities())
    zones = []
    for row in index.exchanges.values():
        if row.classification != "shared" or not row.municipalities:
            continue
        dominant = territory[row.municipalities[0].id]
        zone = shapely.difference(exchanges[row.exchange], dominant)
        if not zone.is_empty:
            zones.append(zone)
    return zones


def _draw_panel(
    ax: Axes,
    index: GeoIndex,
    province: str,
    exchanges: dict[str, PolygonalGeometry],
    zones: list[PolygonalGeometry],
) -> None:
    ranked = [
        (mid, geom)
        for mid, geom in index.ranked_municipalities()
        if index.municipalities[mid].province == province
    ]
    # Weakest first so that stronger polygons (e.g. a reserve inside a municipality) stay on top.
    colour_of = {mid: municipality_colour(n) for n, (mid, _) in enumerate(sorted(ranked))}
    for mid, geometry in reversed(ranked):
        _add(ax, geometry, facecolor=colour_of[mid], edgecolor="#555555", linewidth=0.6)
    province_exchanges = [e for e in index.exchanges.values() if e.province == province]
    for row in province_exchanges:
        _add(ax, exchanges[row.exchange], facecolor="none", edgecolor="#1f1f1f", linewidth=0.9)
    bounds = shapely.total_bounds([g for _, g in ranked])
    bbox = shapely.box(*bounds)
    for zone in zones:
        if zone.intersects(bbox):
            _add(ax, zone, facecolor="none", edgecolor="#b2182b", hatch="////", linewidth=0.0)
    # A translucent box rather than a stroked halo: stroked text would be drawn as outlines
    # and the SVG would lose its searchable, accessible text.
    halo = {"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.65, "linewidth": 0}
    for mid, geometry in ranked:
        point = geometry.representative_point()
        ax.text(
            point.x,
            point.y,
            short_name(index.municipalities[mid].name),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold",
            color="#222222",
            bbox=halo,
        )
    for row in province_exchanges:
        point = exchanges[row.exchange].representative_point()
        ax.text(
            point.x,
            point.y,
            row.name,
            ha="center",
            va="center",
            fontsize=5,
            style="italic",
            color="#444444",
        )
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_aspect(1.0 / math.cos(math.radians((bounds[1] + bounds[3]) / 2)))
    ax.set_title(PROVINCE_NAMES.get(province, province), fontsize=11)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.tick_params(labelsize=7)


MAP_FORMATS = (".svg", ".png")


def map_path_problem(out: Path) -> str | None:
    """Why the coverage map cannot be written to ``out``, else None: the format comes from the
    suffix, and the folder must exist (a mistyped folder is not created silently)."""
    if out.suffix.lower() not in MAP_FORMATS:
        return f"{out}: give a file name ending in {' or '.join(MAP_FORMATS)}"
    if not out.parent.is_dir():
        return f"{out}: no folder {out.parent}"
    return None


def render_map(index: GeoIndex, sources: GeoSources, out: Path) -> None:
    """Draw the coverage map to ``out`` (see :func:`map_path_problem`)."""
    loaded = read_exchanges(sources.exchanges, repair=True).features
    exchanges: dict[str, PolygonalGeometry] = {f.id: f.geometry for f in loaded}
    zones = _shared_zones(index, exchanges)
    provinces = sorted({m.province for m in index.municipalities.values()})
    fig, axes = plt.subplots(1, len(provinces), figsize=(8 * len(provinces), 8.5), squeeze=False)
    for ax, province in zip(axes[0], provinces, strict=True):
        _draw_panel(ax, index, province, exchanges, zones)
    shared = sum(1 for r in index.exchanges.values() if r.classification == "shared")
    fig.suptitle(
        f"311 coverage: {len(index.exchanges)} telephone exchanges, {shared} shared between "
        "municipalities",
        fontsize=14,
    )
    fig.legend(
        handles=[
            Patch(facecolor="#cccccc", edgecolor="#555555", label="municipality (filled, named)"),
            Patch(facecolor="none", edgecolor="#1f1f1f", label="telephone exchange boundary"),
            Patch(
                facecolor="none",
                edgecolor="#b2182b",
                hatch="////",
                label="shared zone: part of an exchange outside its main municipality",
            ),
        ],
        loc="lower center",
        ncol=3,
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text
        fig.savefig(out, dpi=130, format=out.suffix.lower().removeprefix("."))
    plt.close(fig)


__all__ = ["map_path_problem", "render_map"]
