"""Geographic core benchmark: the point index against the exact shapely answer, and the rest.

One million random points (half over each demo region's bounding box, seeded) are placed by
each of three methods, every method on the same 1,000,000 points:

* ``index`` — the precomputed grid (``GeoIndex.locate``);
* ``naive`` — a loop over unprepared polygons (``Polygon.covers(Point)``), strongest first;
* ``strtree`` — a per-point ``STRtree.query(point, predicate="intersects")``, best rank wins.

The exact answer for every point comes from vectorised prepared-geometry tests
(``shapely.intersects_xy`` over all points, polygon by polygon, strongest first), and each
method's ``disagreements`` counts points where it answered differently. Each method makes two
passes over all the points: one timed as a whole, for ``lookups_per_second`` and the answers,
then one timing every call with ``perf_counter_ns`` (its own ~50 ns overhead included) for
p50/p99/max of a single lookup (``latency_points``).

``run()`` returns the report's top-level sections: ``point_lookup``, ``npa_nxx_lookup``,
``index_build``, ``cached_load`` and ``resident_memory``.
"""

from __future__ import annotations

import os
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import psutil
import shapely
from shapely.geometry import Point

from geo.index import GeoIndex, load_geo_index

POINTS = 1_000_000
"""Points placed by every method (index, STRtree and naive alike)."""
LATENCY_SAMPLE = 200_000
"""NPA-NXX codes timed one by one for p50/p99."""
NUMBER_LOOKUPS = 1_000_000
SEED = 311
REGIONS = ((-79.7, 43.5, -78.2, 45.0), (-61.7, 45.4, -59.6, 47.1))


def random_points(count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) arrays: half over each demo region, interleaved."""
    rng = np.random.default_rng(seed)
    lat = np.empty(count)
    lon = np.empty(count)
    for k, (lon_min, lat_min, lon_max, lat_max) in enumerate(REGIONS):
        n = len(lat[k::2])
        lon[k::2] = rng.uniform(lon_min, lon_max, n)
        lat[k::2] = rng.uniform(lat_min, lat_max, n)
    return lat, lon


def exact_answers(index: GeoIndex, lat: np.ndarray, lon: np.ndarray) -> list[str | None]:
    ranked = index.ranked_municipalities()
    winner = np.full(len(lat), -1)
    for position, (_, polygon) in enumerate(ranked):
        shapely.prepare(polygon)
        hit = shapely.intersects_xy(polygon, lon, lat) & (winner < 0)
        winner[hit] = position
    ids = [mid for mid, _ in ranked]
    return [ids[w] if w >= 0 else None for w in winner.tolist()]


def _percentiles(samples_ns: Sequence[int] | np.ndarray) -> dict[str, float]:
    ordered = np.sort(np.asarray(samples_ns, dtype=np.int64))
    last = len(ordered) - 1
    return {
        "p50_ns": float(ordered[round(0.50 * last)]),
        "p99_ns": float(ordered[round(0.99 * last)]),
        "max_ns": float(ordered[-1]),
    }


def _measure(
    locate: Callable[[float, float], str | None],
    lat: list[float],
    lon: list[float],
    expected: Sequence[str | None],
) -> dict[str, float | int]:
    started = time.perf_counter()
    answers = [locate(a, o) for a, o in zip(lat, lon, strict=True)]
    elapsed = time.perf_counter() - started
    clock = time.perf_counter_ns
    latencies = np.empty(len(lat), dtype=np.int64)
    for i, (a, o) in enumerate(zip(lat, lon, strict=True)):
        t0 = clock()
        locate(a, o)
        latencies[i] = clock() - t0
    return {
        "points": len(lat),
        "lookups_per_second": round(len(lat) / elapsed),
        "seconds": round(elapsed, 3),
        **_percentiles(latencies),
        "latency_points": len(latencies),
        "disagreements": sum(1 for g, e in zip(answers, expected, strict=True) if g != e),
    }


def _naive(index: GeoIndex) -> Callable[[float, float], str | None]:
    unprepared = [
        (mid, shapely.from_wkb(shapely.to_wkb(poly))) for mid, poly in index.ranked_municipalities()
    ]

    def locate(lat: float, lon: float) -> str | None:
        point = Point(lon, lat)
        for municipality_id, polygon in unprepared:
            if polygon.covers(point):
                return municipality_id
        return None

    return locate


def _strtree(index: GeoIndex) -> Callable[[float, float], str | None]:
    ranked = index.ranked_municipalities()
    tree = shapely.STRtree([poly for _, poly in ranked])
    ids = [mid for mid, _ in ranked]

    def locate(lat: float, lon: float) -> str | None:
        hits = tree.query(Point(lon, lat), predicate="intersects")
        return ids[int(hits.min())] if len(hits) else None

    return locate


def _point_lookup(index: GeoIndex) -> dict[str, object]:
    lat_a, lon_a = random_points(POINTS)
    started = time.perf_counter()
    expected = exact_answers(index, lat_a, lon_a)
    exact_seconds = time.perf_counter() - started
    lat, lon = lat_a.tolist(), lon_a.tolist()
    result: dict[str, object] = {
        "points": POINTS,
        "inside_some_municipality": sum(1 for e in expected if e is not None),
        "exact_vectorised_seconds": round(exact_seconds, 2),
        "index": _measure(index.locate, lat, lon, expected),
        "strtree": _measure(_strtree(index), lat, lon, expected),
        "naive": _measure(_naive(index), lat, lon, expected),
    }
    rate = {
        k: result[k]["lookups_per_second"]  # type: ignore[index]
        for k in ("index", "strtree", "naive")
    }
    result["index_speedup_vs_naive"] = round(rate["index"] / rate["naive"], 2)
    result["index_speedup_vs_strtree"] = round(rate["index"] / rate["strtree"], 2)
    return result


def _npa_nxx(index: GeoIndex) -> dict[str, object]:
    codes = sorted(c for cs in index.npa_nxx_by_exchange().values() for c in cs)
    codes += ["902999", "905000"]  # unknown codes cost a lookup too
    sequence = [codes[i % len(codes)] for i in range(NUMBER_LOOKUPS)]
    lookup = index.exchange_for_npa_nxx
    started = time.perf_counter()
    for code in sequence:
        lookup(code)
    elapsed = time.perf_counter() - started
    clock = time.perf_counter_ns
    latencies = []
    for code in sequence[:LATENCY_SAMPLE]:
        t0 = clock()
        lookup(code)
        latencies.append(clock() - t0)
    numbers = [f"+1{c}0123" for c in sequence[:100_000]]
    started = time.perf_counter()
    for number in numbers:
        index.place_number(number)
    placed = time.perf_counter() - started
    return {
        "lookups": NUMBER_LOOKUPS,
        "lookups_per_second": round(NUMBER_LOOKUPS / elapsed),
        "mean_ns": round(elapsed / NUMBER_LOOKUPS * 1e9, 1),
        **_percentiles(latencies),
        "latency_sample_size": LATENCY_SAMPLE,
        "place_number_with_parsing": {
            "numbers": len(numbers),
            "per_second": round(len(numbers) / placed),
        },
    }


def _build_and_load() -> tuple[GeoIndex, dict[str, object], dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        started = time.perf_counter()
        index = load_geo_index(cache_dir=cache)
        build = time.perf_counter() - started
        loads = []
        for _ in range(5):
            started = time.perf_counter()
            index = load_geo_index(cache_dir=cache)
            loads.append(time.perf_counter() - started)
        cache_bytes = sum(p.stat().st_size for p in cache.iterdir())
    built: dict[str, object] = {
        "seconds": round(build, 3),
        "pickled_index_bytes": len(pickle.dumps(index)),
        "grid": index.grid_stats(),
    }
    loaded: dict[str, object] = {
        "seconds_median": round(statistics.median(loads), 4),
        "loads": len(loads),
        "cache_file_bytes": cache_bytes,
    }
    return index, built, loaded


def run() -> dict[str, object]:
    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    index, built, loaded = _build_and_load()
    rss_loaded = process.memory_info().rss
    result: dict[str, object] = {
        "point_lookup": _point_lookup(index),
        "npa_nxx_lookup": _npa_nxx(index),
        "index_build": built,
        "cached_load": loaded,
        "resident_memory": {
            "rss_bytes_after_index_load": rss_loaded,
            "rss_bytes_growth_for_index": rss_loaded - rss_before,
            "rss_bytes_at_end": process.memory_info().rss,
        },
    }
    return result
