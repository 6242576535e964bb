"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_DIR = (Path(__file__).resolve().parents[1] / ".." / "shared" / "reference").resolve()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The directory holding the reference option file and the legacy layout sample."""
    if not (REFERENCE_DIR / "config_schema.toml").is_file():
        pytest.fail(f"reference data not found in {REFERENCE_DIR}")
    return REFERENCE_DIR
