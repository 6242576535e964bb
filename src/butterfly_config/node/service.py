"""What the HTTP API needs from a running node, and the shapes it answers with.

The API layer (node/api/) depends only on `ConfigService`; the runtime's
`ConfigManager` implements it. Keeping the seam this narrow lets the API be
tested against a real manager or an in-memory one, and keeps protocol logic
out of request handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from butterfly_config.errors import ConfigIssue

Action = Literal["update", "patch", "rollback", "reload"]
PatchOpKind = Literal["set", "delete", "merge"]


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One PATCH operation: set a leaf, delete it (back to default), or merge a table."""

    op: PatchOpKind
    path: str
    value: Any = None


IfMatch: TypeAlias = frozenset[str] | None
"""The cluster hashes an update may start from (HTTP If-Match), or None for any.

An update whose node is at another cluster_hash when it is built (on every
try) is refused with 412, so a read-modify-write never overwrites a change
committed after the read."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: the authenticated subject and its roles."""

    subject: str
    roles: tuple[str, ...] = ()
    method: str = "none"


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """A committed (or locally applied) change, as the API returns it."""

    revision: int
    version: str
    cluster_hash: str
    applied_at: float
    rollback_available: bool
    scope: Literal["cluster", "local"] = "cluster"
    changed_paths: tuple[str, ...] = ()
    target_revision: int | None = None
    """A rollback: the revision whose content it committed again."""
    note: str = ""
    """A rollback: how a version naming several revisions was settled."""

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": True,
            "revision": self.revision,
            "version": self.version,
            "cluster_hash": self.cluster_hash,
            "applied_at": self.applied_at,
            "rollback_available": self.rollback_available,
            "scope": self.scope,
            "changed_paths": list(self.changed_paths),
        }
        if self.target_revision is not None:
            body["target_revision"] = self.target_revision
        if self.note:
            body["note"] = self.note
        return body


class UpdateRefused(Exception):
    """An update that was not applied, with the HTTP status that says why.

    400 invalid, 409 in progress or static option changed, 503 no quorum or
    consensus timeout. Nothing was applied anywhere.
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[ConfigIssue] | None = None,
        *,
        restart_required: list[str] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors or [])
        self.restart_required = list(restart_required or [])
        self.request_id = request_id
        """Set when the update is undecided (it may still commit): its id in the history."""

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": False,
            "message": self.message,
            "errors": [e.as_dict() for e in self.errors],
        }
        if self.restart_required:
            body["restart_required"] = self.restart_required
        if self.request_id:
            body["request_id"] = self.request_id
        return body


@dataclass(frozen=True, slots=True)
class ValidationReport:
    valid: bool
    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)


class ConfigService(Protocol):
    """The operations of a node that the HTTP API exposes."""

    @property
    def node_id(self) -> str: ...

    def current_document(self) -> dict[str, Any]:
        """The effective configuration, secrets redacted, as a JSON-ready dict."""
        ...

    def current_toml(self) -> str: ...

    @property
    def revision(self) -> int: ...

    @property
    def cluster_hash(self) -> str: ...

    @property
    def applied_at(self) -> float:
        """Unix time this node applied its current revision."""
        ...

    async def update_document(
        self, document: dict[str, Any], *, identity: Identity, action: Action = "update",
        if_match: IfMatch = None,
    ) -> UpdateResult:
        """Propose a full cluster configuration (cluster-scope options)."""
        ...

    async def patch(
        self, operations: list[PatchOperation], *, identity: Identity, if_match: IfMatch = None
    ) -> UpdateResult: ...

    async def rollback(
        self, version: str, *, identity: Identity, if_match: IfMatch = None
    ) -> UpdateResult: ...

    def validate_document(self, document: dict[str, Any]) -> ValidationReport: ...

    def history(self, limit: int, scope: Literal["cluster", "local"]) -> list[dict[str, Any]]: ...

    async def sync(self) -> dict[str, Any]: ...

    def reset_reputation(self, member: str, *, identity: Identity) -> dict[str, Any]:
        """Lift isolation: this node's view of `member` starts again at the initial score.

        Reputation is judged per node, so this changes this node only. Answers
        `{node_id, member, reputation, state, previous_reputation, previous_state}`;
        an unknown member is `UpdateRefused(404)`.
        """
        ...

    async def wait_for_revision(self, after: int, timeout: float) -> int:
        """Return the current revision once it is > after, or at timeout."""
        ...

    def cluster_status(self) -> dict[str, Any]: ...

    def is_ready(self) -> tuple[bool, str]: ...

    def audit(self, actor: str, action: str, outcome: str, detail: dict[str, Any]) -> None: ...
