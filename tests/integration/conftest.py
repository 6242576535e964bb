"""Integration tests start real node processes on 127.0.0.1 and stop all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from integration_harness import LocalCluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A started 4-node cluster without TLS."""
    with LocalCluster(tmp_path / "cluster", 4) as local:
        yield local
