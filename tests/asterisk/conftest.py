"""A real Asterisk for this directory's tests; they skip when no asterisk binary is found."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_testing import AsteriskNode, new_node

from routing_rules.snapshot import load_snapshot


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskNode]:
    binary = shutil.which("asterisk")
    if binary is None:
        pytest.skip("no asterisk binary")
    root: Path = tmp_path_factory.mktemp("asterisk")
    asterisk = new_node(binary, root)
    asterisk.render(load_snapshot("durham"))
    asterisk.start()
    try:
        yield asterisk
    finally:
        asterisk.stop()
