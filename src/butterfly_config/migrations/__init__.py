"""Older configuration layouts -> the current schema.

A migration is a chain of declarative steps (`rules.MigrationStep`): each
renames or converts keys and reports every key it cannot carry over, with the
reason. `migrate_file(input, "0.9", "1.0.0")` (or `"legacy"` -> `"1.0"`) returns
the migrated TOML text and its `MigrationReport`; see docs in `legacy_0_9` for
the first step and its unit decisions.
"""

from butterfly_config.migrations.migrate import MigrationResult, migrate_document, migrate_file
from butterfly_config.migrations.registry import canonical_version, plan, supported_steps_text
from butterfly_config.migrations.report import AddedKey, MappedKey, MigrationReport, UnmappedKey

__all__ = [
    "AddedKey",
    "MappedKey",
    "MigrationReport",
    "MigrationResult",
    "UnmappedKey",
    "canonical_version",
    "migrate_document",
    "migrate_file",
    "plan",
    "supported_steps_text",
]
