"""The point index: (lat, lon) → the municipality a point lies in, without geometry on the hot path.

Boundary semantics: a point *on* a polygon's edge or vertex belongs to that polygon (shapely
``covers``; equivalently ``intersects`` for a point). Where several polygons cover a point the
higher ``priority`` wins, then the smaller polygon, then the smaller id (``rank``). The exact
answer is :func:`exact_locate`; the index returns the same answer for every point.

Structure: a two-level grid in lon/lat. The map is cut into coarse cells (``COARSE_DEG``);
each coarse cell that touches a polygon is cut into ``FINE`` × ``FINE`` fine cells, and every
fine cell is classified with vectorised shapely predicates on slightly enlarged boxes:

* covered by its winner and touched by no stronger polygon's boundary → the winner's code;
* touched by no polygon → 0 (outside every municipality);
* otherwise a boundary cell → a short, ranked candidate list for an exact prepared test.

A coarse cell whose fine cells all carry the same resolved code collapses to that code. A
lookup is two multiplications, one dict probe and (inside a split coarse cell) one array
index; only boundary cells (a few percent of the area) touch shapely at all.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

COARSE_DEG = 0.125
FINE_BITS = 5
FINE = 1 << FINE_BITS  # fine cells per coarse cell side: 32 → about 430 m × 300 m at 45° N
FINE_MASK = FINE - 1
# Cells are classified on boxes enlarged by this much (degrees, about 0.1 mm) so that a point
# rounding into a neighbouring cell at a cell edge still lies in the box that was classified.
BOX_MARGIN = 1e-9
_KEY_STRIDE = 1 << 20


def exact_locate(ranked: Sequence[shapely.Geometry], lat: float, lon: float) -> int:
    """The reference answer: index into ``ranked`` of the first polygon covering the point, or -1.

    ``ranked`` is ordered strongest first (see the module docstring).
    """
    for position, polygon in enumerate(ranked):
        if shapely.intersects_xy(polygon, lon, lat):
            return position
    return -1


@dataclass
class PointIndex:
    """The grid over ranked polygons; build with :meth:`build`, query with :meth:`locate`.

    Codes: ``n > 0`` → polygon ``n - 1`` (in rank order); ``0`` → none; ``n < 0`` → boundary
    cell, candidate list ``-n - 1``.
    """

    polygons: list[shapely.Geometry]
    lon0: float
    lat0: float
    inv_fine_deg: float
    width: int
    height: int
    cells: dict[int, int | array[int]]
    candidates: list[tuple[int, ...]]
    boundary_cells: int = 0
    resolved_cells: int = 0
    _prepared: bool = field(default=False, repr=False, compare=False)

    @classmethod
    def build(cls, ranked: Sequence[shapely.Geometry]) -> PointIndex:
        polygons = list(ranked)
        bounds = shapely.total_bounds(polygons)
        lon0 = math.floor(bounds[0] / COARSE_DEG) * COARSE_DEG
        lat0 = math.floor(bounds[1] / COARSE_DEG) * COARSE_DEG
        coarse_w = math.ceil((bounds[2] - lon0) / COARSE_DEG) + 1
        coarse_h = math.ceil((bounds[3] - lat0) / COARSE_DEG) + 1
        fine_deg = COARSE_DEG / FINE
        for polygon in polygons:
            shapely.prepare(polygon)
        tree = shapely.STRtree(polygons)
        cells: dict[int, int | array[int]] = {}
        candidates: list[tuple[int, ...]] = []
        candidate_ids: dict[tuple[int, ...], int] = {}
        boundary = resolved = 0
        offsets = (np.arange(FINE) * fine_deg).astype(float)
        fx, fy = np.meshgrid(offsets, offsets, indexing="xy")  # row = y, column = x
        for cy in range(coarse_h):
            for cx in range(coarse_w):
                x0 = lon0 + cx * COARSE_DEG
                y0 = lat0 + cy * COARSE_DEG
                coarse_box = shapely.box(
                    x0 - BOX_MARGIN,
                    y0 - BOX_MARGIN,
                    x0 + COARSE_DEG + BOX_MARGIN,
                    y0 + COARSE_DEG + BOX_MARGIN,
                )
                hits = sorted(tree.query(coarse_box, predicate="intersects").tolist())
                if not hits:
                    continue
                boxes = shapely.box(
                    (x0 + fx - BOX_MARGIN).ravel(),
                    (y0 + fy - BOX_MARGIN).ravel(),
                    (x0 + fx + fine_deg + BOX_MARGIN).ravel(),
                    (y0 + fy + fine_deg + BOX_MARGIN).ravel(),
                )
                covered = np.stack([shapely.covers(polygons[i], boxes) for i in hits])
                touched = np.stack([shapely.intersects(polygons[i], boxes) for i in hits])
                codes = array("i", bytes(4 * FINE * FINE))
                for cell in range(FINE * FINE):
                    code = 0
                    stronger: list[int] = []
                    for row, polygon_index in enumerate(hits):
                        if covered[row, cell]:
                            code = polygon_index + 1
                            break
                        if touched[row, cell]:
                            stronger.append(polygon_index)
                    if stronger:
                        ranked_candidates = tuple(stronger) + ((code - 1,) if code else ())
                        position = candidate_ids.get(ranked_candidates)
                        if position is None:
                            position = len(candidates)
                            candidates.append(ranked_candidates)
                            candidate_ids[ranked_candidates] = position
                        code = -position - 1
                        boundary += 1
                    else:
                        resolved += 1
                    codes[cell] = code
                key = cx * _KEY_STRIDE + cy
                first = codes[0]
                if first >= 0 and codes.count(first) == len(codes):
                    if first:
                        cells[key] = first
                else:
                    cells[key] = codes
        index = cls(
            polygons=polygons,
            lon0=lon0,
            lat0=lat0,
            inv_fine_deg=FINE / COARSE_DEG,
            width=coarse_w * FINE,
            height=coarse_h * FINE,
            cells=cells,
            candidates=candidates,
            boundary_cells=boundary,
            resolved_cells=resolved,
        )
        index._prepared = True
        return index

    def prepare(self) -> None:
        """Prepare the polygons for the exact tests in boundary cells (after unpickling)."""
        if not self._prepared:
            for polygon in self.polygons:
                shapely.prepare(polygon)
            self._prepared = True

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_prepared"] = False
        return state

    def locate(self, lat: float, lon: float) -> int:
        """Rank position of the winning polygon for a point, or -1 (outside every polygon).

        Written for speed: this runs once per located call and in the benchmark's loop.
        """
        fx = (lon - self.lon0) * self.inv_fine_deg
        fy = (lat - self.lat0) * self.inv_fine_deg
        if not (0.0 <= fx < self.width and 0.0 <= fy < self.height):
            return -1
        ix = int(fx)
        iy = int(fy)
        cell = self.cells.get((ix >> FINE_BITS) * _KEY_STRIDE + (iy >> FINE_BITS))
        if cell is None:
            return -1
        if cell.__class__ is int:
            return cell - 1
        code = cell[((iy & FINE_MASK) << FINE_BITS) | (ix & FINE_MASK)]  # type: ignore[index]
        if code >= 0:
            return code - 1
        return self._exact(self.candidates[-code - 1], lat, lon)

    def _exact(self, candidates: tuple[int, ...], lat: float, lon: float) -> int:
        if not self._prepared:
            self.prepare()
        polygons = self.polygons
        intersects_xy = shapely.intersects_xy
        for polygon_index in candidates:
            if intersects_xy(polygons[polygon_index], lon, lat):
                return polygon_index
        return -1
