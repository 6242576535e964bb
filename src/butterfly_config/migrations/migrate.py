"""One call from an old file to the migrated text and its report."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from butterfly_config.migrations import target_schema
from butterfly_config.migrations.engine import apply_steps
from butterfly_config.migrations.io import read_document, render_document
from butterfly_config.migrations.registry import plan
from butterfly_config.migrations.report import MigrationReport


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """The migrated document, its TOML text (with comments) and what happened to each key."""

    document: dict[str, Any]
    text: str
    report: MigrationReport


def migrate_document(
    document: dict[str, Any], from_version: str, to_version: str, source_name: str = "input"
) -> MigrationResult:
    """Migrate an already parsed document; raises UsageError for an unknown version pair."""
    steps = plan(from_version, to_version)
    migrated, report = apply_steps(document, steps)
    text = render_document(migrated, report, source_name, target_schema.option_rank,
                           target_schema.is_option)
    return MigrationResult(migrated, text, report)


def migrate_file(
    input_path: str | os.PathLike[str], from_version: str, to_version: str
) -> MigrationResult:
    """Plan first (so a bad version pair is reported before the file is read), then migrate."""
    plan(from_version, to_version)
    document = read_document(input_path)
    return migrate_document(document, from_version, to_version, Path(input_path).name)
