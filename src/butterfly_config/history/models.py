"""Records the history store reads and writes (documents stay canonical bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Action: TypeAlias = Literal["update", "patch", "rollback", "reload"]
ACTIONS: tuple[str, ...] = ("update", "patch", "rollback", "reload")
JsonValue: TypeAlias = Any
"""A value JSON can hold (None, bool, int, float, str, list, dict)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One changed option: dotted path with its old and new value (JSON values)."""

    path: str
    old: JsonValue = None
    new: JsonValue = None


@dataclass(frozen=True, slots=True)
class RevisionEntry:
    """One committed cluster revision.

    `document` is the canonical encoding of the configuration (bytes, never a
    model), `doc_hash` its cluster_hash, `entry_digest` the chain link (see
    history.chain), `certificate` the commit certificate as opaque bytes.
    """

    revision: int
    document: bytes
    doc_hash: str
    parent_digest: str
    entry_digest: str
    timestamp: float
    proposer: str
    initiator: str
    action: Action
    changes: tuple[Change, ...] = ()
    certificate: bytes | None = None
    config_version: str | None = None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class VersionMatch:
    """The revision an operator's version names, and how a name shared by several
    revisions was settled (`note`, empty when the name was exact), so the answer can
    say which one a rollback took."""

    entry: RevisionEntry
    note: str = ""


@dataclass(frozen=True, slots=True)
class LocalChange:
    """A dynamic-local change of this node (numbered in the node's own sequence)."""

    seq: int
    timestamp: float
    initiator: str
    action: Action
    changes: tuple[Change, ...]
    document: bytes | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what, with which outcome and why."""

    seq: int
    timestamp: float
    actor: str
    action: str
    outcome: str
    detail: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditNote:
    """An audit record still to be written (the store numbers and timestamps it)."""

    actor: str
    action: str
    outcome: str
    detail: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of `HistoryStore.verify_chain`."""

    ok: bool
    checked: int
    head_revision: int | None
    first_bad_revision: int | None = None
    reason: str = ""
