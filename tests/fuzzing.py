"""How many cases the project's fuzzers generated, for the test run's summary.

A fuzzer calls `fuzz_case` once per generated case with its name (``admin-api``, ``agi``,
``rules-file``...); ``tests/conftest.py`` prints ``fuzz: N cases (admin-api: a, agi: b, ...)``
in pytest's terminal summary. Importable from every test folder as ``from fuzzing import
fuzz_case`` (pytest puts ``tests/`` on ``sys.path`` for its ``conftest.py``). `allocation_peak`
measures what one case allocated, for fuzzers that bound memory.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_cases: Counter[str] = Counter()


def fuzz_case(fuzzer: str) -> None:
    """Count one generated case of ``fuzzer``."""
    _cases[fuzzer] += 1


def fuzz_summary() -> str | None:
    """``fuzz: N cases (name: n, ...)``, or None when no fuzzer ran."""
    if not _cases:
        return None
    parts = ", ".join(f"{name}: {count}" for name, count in sorted(_cases.items()))
    return f"fuzz: {sum(_cases.values())} cases ({parts})"


@contextmanager
def allocation_peak() -> Iterator[list[int]]:
    """The most memory (bytes of Python allocations) the block allocated on top of what was
    allocated when it started: ``with allocation_peak() as peak: ...`` then ``peak[0]``.

    Needs the ``traced_memory`` fixture (tracemalloc on for the whole test, and on before any
    thread of the test starts: stopping it while another thread allocates crashes Python 3.11).
    """
    assert tracemalloc.is_tracing(), "use the traced_memory fixture"
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    peak = [0]
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1] - before
