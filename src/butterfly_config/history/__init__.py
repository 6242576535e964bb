"""The node's durable history (SQLite) and the atomic current.toml mirror."""

from butterfly_config.history.chain import GENESIS_PARENT, entry_digest
from butterfly_config.history.errors import (
    AmbiguousVersion,
    ChainViolation,
    HistoryCorrupt,
    HistoryError,
    HistoryInUse,
    MirrorCorrupt,
    RevisionNotFound,
)
from butterfly_config.history.mirror import Mirror, mirror_path, read_mirror, write_mirror
from butterfly_config.history.models import (
    Action,
    AuditNote,
    AuditRecord,
    ChainReport,
    Change,
    LocalChange,
    RevisionEntry,
    VersionMatch,
)
from butterfly_config.history.store import HistoryStore, config_dir, default_digest

__all__ = [
    "GENESIS_PARENT",
    "Action",
    "AmbiguousVersion",
    "AuditNote",
    "AuditRecord",
    "ChainReport",
    "ChainViolation",
    "Change",
    "HistoryCorrupt",
    "HistoryError",
    "HistoryInUse",
    "HistoryStore",
    "LocalChange",
    "Mirror",
    "MirrorCorrupt",
    "RevisionEntry",
    "RevisionNotFound",
    "VersionMatch",
    "config_dir",
    "default_digest",
    "entry_digest",
    "mirror_path",
    "read_mirror",
    "write_mirror",
]
