"""An in-memory `ConfigService` for API, client and CLI tests.

It is a small but real implementation, not a set of canned answers: it keeps
the effective document, validates proposals with the project's own
validation (schema models and rules, as `build_config` runs them),
classifies changed options with the schema registry (static -> 409 with the
option names, dynamic-local -> local history without a cluster revision,
otherwise a new cluster revision), keeps a history with rollback by revision,
hash prefix or metadata.config_version, and wakes long-polls. Knobs let tests
simulate a lost quorum or an update in progress.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from typing import Any, Literal

import blake3
import orjson
import tomlkit

from butterfly_config.config import LoadSettings, build_config
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.service import (
    Action,
    Identity,
    IfMatch,
    PatchOperation,
    UpdateRefused,
    UpdateResult,
    ValidationReport,
)
from butterfly_config.schema import registry

REDACTED = "***"
INITIAL_SCORE = 100.0
ISOLATE_THRESHOLD = 10.0
SECRET_MARKER = "s3cr3t-value-never-served"


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf path -> value, by the schema (free-form tables are one leaf)."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if registry.option_info(path) is None and isinstance(value, dict):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def unflatten(leaves: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in leaves.items():
        node = root
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return root


def _reputation_state(score: float) -> str:
    return "isolated" if score < ISOLATE_THRESHOLD else "trusted"


def schema_issues(document: dict[str, Any]) -> list[ConfigIssue]:
    """Unknown options, then the real schema and validation rules (file checks off)."""
    issues: list[ConfigIssue] = []
    for path in flatten(document):
        if registry.option_info(path) is None:
            hint = registry.suggest(path)
            issues.append(ConfigIssue(path=path, message="unknown option",
                                      hint=f"did you mean {hint}?" if hint else "",
                                      rule="unknown-key"))
    if issues:
        return issues
    try:
        config = build_config(document, {}, [], LoadSettings(check_paths=False))
    except ConfigError as exc:
        return list(exc.errors)
    return list(config.warnings)


class FakeConfigService:
    """In-memory node: one member, commits immediately unless told otherwise."""

    def __init__(self, node_id: str = "node-a", secret: str = SECRET_MARKER,
                 secret_paths: tuple[str, ...] = ("security.api.jwt_secret_file",)) -> None:
        self._node_id = node_id
        base = registry.default_document()
        base.setdefault("node", {})["node_id"] = node_id
        base.setdefault("security", {}).setdefault("api", {})
        # The schema's secret options, plus one stand-in so redaction is exercised.
        self._secret_paths = [*secret_paths,
                              *(p for p, i in registry.options().items() if i.secret)]
        self._leaves = flatten(base)
        for path in self._secret_paths:
            self._leaves[path] = secret
        self._revision = 0
        self._applied_at = time.time()
        self._history: list[dict[str, Any]] = []
        self._local_history: list[dict[str, Any]] = []
        self._record("update", "boot", [], {}, revision=0)
        self.ready: tuple[bool, str] = (True, "")
        self.quorum_lost = False
        self.update_in_progress = False
        self.audit_log: list[tuple[str, str, str, dict[str, Any]]] = []
        self.sync_calls = 0
        self.active_waits = 0
        self.view = 0
        # this node's view of each member's score (tests lower it to isolate one)
        self.reputation: dict[str, float] = {node_id: INITIAL_SCORE}
        self.peers: list[dict[str, Any]] = []

    # -- reading --------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def cluster_hash(self) -> str:
        return self._hash_of(self._leaves)

    @property
    def applied_at(self) -> float:
        return self._applied_at

    def current_document(self) -> dict[str, Any]:
        leaves = {p: v for p, v in self._leaves.items() if v is not None}
        for path in self._secret_paths:
            if leaves.get(path) is not None:
                leaves[path] = REDACTED
        return unflatten(leaves)

    def current_toml(self) -> str:
        return tomlkit.dumps(self.current_document())

    def history(self, limit: int, scope: Literal["cluster", "local"]) -> list[dict[str, Any]]:
        entries = self._history if scope == "cluster" else self._local_history
        return [{k: copy.deepcopy(v) for k, v in e.items() if k != "_leaves"}
                for e in reversed(entries[-limit:])]

    def cluster_status(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "coordinator": self._node_id,
            "revision": self._revision,
            "cluster_hash": self.cluster_hash,
            "node_id": self._node_id,
            "nodes": [{
                "node_id": self._node_id, "addr": "127.0.0.1:7890", "api_addr": "127.0.0.1:8080",
                "revision": self._revision, "cluster_hash": self.cluster_hash, "state": "ready",
                "phi": 0.0, "reputation": self.reputation[self._node_id],
                "restart_required": [],
            }, *(dict(peer, reputation=self.reputation.get(peer["node_id"]),
                      reputation_state=_reputation_state(self.reputation.get(peer["node_id"], 0)))
                 for peer in self.peers)],
        }

    def is_ready(self) -> tuple[bool, str]:
        return self.ready

    def audit(self, actor: str, action: str, outcome: str, detail: dict[str, Any]) -> None:
        self.audit_log.append((actor, action, outcome, detail))

    def validate_document(self, document: dict[str, Any]) -> ValidationReport:
        issues = schema_issues(document)
        errors = [i for i in issues if i.severity == "error"]
        return ValidationReport(valid=not errors, errors=errors,
                                warnings=[i for i in issues if i.severity == "warning"])

    # -- changing -------------------------------------------------------------
    def _precondition(self, if_match: IfMatch) -> None:
        """As the node checks If-Match: 412 unless the current cluster_hash is named."""
        if if_match is not None and self.cluster_hash not in if_match:
            raise UpdateRefused(412, "the configuration changed since it was read: revision "
                                     f"{self._revision}, cluster_hash {self.cluster_hash}")

    async def update_document(
        self, document: dict[str, Any], *, identity: Identity, action: Action = "update",
        if_match: IfMatch = None,
    ) -> UpdateResult:
        self._precondition(if_match)
        proposed = flatten(registry.default_document())
        proposed.update(flatten(document))
        # Node-local options are not part of a cluster proposal: keep ours.
        for path, info in registry.options().items():
            if info.scope == "node":
                proposed[path] = self._leaves.get(path)
        for path in self._secret_paths:
            if proposed.get(path) in (REDACTED, None):
                proposed[path] = self._leaves.get(path)
        return self._commit(proposed, identity, action)

    async def patch(self, operations: list[PatchOperation], *, identity: Identity,
                    if_match: IfMatch = None) -> UpdateResult:
        self._precondition(if_match)
        proposed = dict(self._leaves)
        defaults = flatten(registry.default_document())
        issues: list[ConfigIssue] = []
        for op in operations:
            info = registry.option_info(op.path)
            if op.op == "merge" and info is None and registry.is_section(op.path):
                for leaf, value in flatten(op.value, f"{op.path}.").items():
                    proposed[leaf] = value
                continue
            if info is None:
                hint = registry.suggest(op.path)
                issues.append(ConfigIssue(path=op.path, message="unknown option",
                                          hint=f"did you mean {hint}?" if hint else "",
                                          rule="unknown-key"))
            elif op.op == "set":
                proposed[op.path] = op.value
            elif op.op == "delete":
                proposed[op.path] = defaults.get(op.path)
            else:
                current = proposed.get(op.path)
                if not isinstance(current, dict):
                    issues.append(ConfigIssue(path=op.path, message="merge needs a table option",
                                              rule="patch"))
                else:
                    proposed[op.path] = {**current, **op.value}
        if issues:
            raise UpdateRefused(400, "patch refused", issues)
        return self._commit(proposed, identity, "patch")

    async def rollback(self, version: str, *, identity: Identity,
                       if_match: IfMatch = None) -> UpdateResult:
        self._precondition(if_match)
        target = self._find(version)
        if target is None:  # as the node's store words it (HistoryStore.find_revision)
            raise UpdateRefused(400, f"no revision matches {version!r}\n"
                                     "  hint: `butterfly config history` lists them")
        carrying = [e["revision"] for e in self._history if e["config_version"] == version]
        note = "" if len(carrying) < 2 else (  # as HistoryStore.resolve_version words it
            f"config_version {version!r} is carried by {len(carrying)} revisions "
            f"({min(carrying)} to {max(carrying)}): it names the newest, revision "
            f"{max(carrying)}")
        result = self._commit(dict(target["_leaves"]), identity, "rollback")
        return dataclasses.replace(result, target_revision=target["revision"], note=note)

    async def sync(self) -> dict[str, Any]:
        self.sync_calls += 1
        return {"revision": self._revision, "fetched": 0, "cluster_hash": self.cluster_hash}

    def reset_reputation(self, member: str, *, identity: Identity) -> dict[str, Any]:
        if member not in self.reputation:
            raise UpdateRefused(404, f"{member!r} is not a member of this cluster", [ConfigIssue(
                path="node_id", message=f"no member is called {member!r}",
                hint="`butterfly cluster status` lists the members", rule="membership")])
        before = self.reputation[member]
        self.reputation[member] = INITIAL_SCORE
        self.audit(identity.subject, "reputation-reset", "reset",
                   {"member": member, "previous_reputation": before})
        return {"node_id": self._node_id, "member": member, "reputation": INITIAL_SCORE,
                "state": "trusted", "previous_reputation": before,
                "previous_state": _reputation_state(before)}

    async def wait_for_revision(self, after: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        self.active_waits += 1
        try:
            while self._revision <= after and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return self._revision
        finally:
            self.active_waits -= 1

    # -- internals ------------------------------------------------------------
    def _commit(self, proposed: dict[str, Any], identity: Identity, action: Action
                ) -> UpdateResult:
        if self.update_in_progress:
            raise UpdateRefused(409, "another update is in progress; retry")
        changed = sorted(p for p in set(proposed) | set(self._leaves)
                         if proposed.get(p) != self._leaves.get(p))
        static = [p for p in changed if (i := registry.option_info(p)) and i.mutability == "static"]
        if static:
            raise UpdateRefused(409, "static options changed: requires restart", [
                ConfigIssue(path=p, message="static option: requires restart",
                            hint="change it in the file and restart the node", rule="static")
                for p in static], restart_required=static)
        issues = [i for i in schema_issues(unflatten({p: v for p, v in proposed.items()
                                                      if v is not None}))
                  if i.severity == "error"]
        if issues:
            raise UpdateRefused(400, "configuration is invalid", issues)
        if self.quorum_lost:
            raise UpdateRefused(503, "no quorum: 1 of 4 members reachable, 3 needed")
        local_only = bool(changed) and all(
            (i := registry.option_info(p)) is not None and i.scope == "node" for p in changed)
        old = self._leaves
        self._leaves = proposed
        if local_only:
            self._local_history.append(self._entry(action, identity.subject, changed, old,
                                                   len(self._local_history) + 1))
            scope: Literal["cluster", "local"] = "local"
        elif changed or action == "rollback":
            self._revision += 1
            self._applied_at = time.time()
            self._record(action, identity.subject, changed, old, revision=self._revision)
            scope = "cluster"
        else:
            scope = "cluster"
        return UpdateResult(revision=self._revision, version=str(self._revision),
                            cluster_hash=self.cluster_hash, applied_at=self._applied_at,
                            rollback_available=self._revision > 0, scope=scope,
                            changed_paths=tuple(changed))

    def _record(self, action: Action, initiator: str, changed: list[str],
                old: dict[str, Any], *, revision: int) -> None:
        entry = self._entry(action, initiator, changed, old, revision)
        entry["_leaves"] = dict(self._leaves)
        self._history.append(entry)

    def _entry(self, action: Action, initiator: str, changed: list[str], old: dict[str, Any],
               revision: int) -> dict[str, Any]:
        return {
            "revision": revision,
            "cluster_hash": self.cluster_hash,
            "timestamp": time.time(),
            "action": action,
            "initiator": initiator,
            "proposer": self._node_id,
            "config_version": str(self._leaves.get("metadata.config_version", "")),
            "changes": [{"path": p, "old": self._shown(p, old.get(p)),
                         "new": self._shown(p, self._leaves.get(p))} for p in changed],
        }

    def _shown(self, path: str, value: Any) -> Any:
        return REDACTED if path in self._secret_paths and value is not None else value

    def _find(self, version: str) -> dict[str, Any] | None:
        if version.isascii() and version.isdigit():  # a revision number only
            return next((e for e in self._history if e["revision"] == int(version)), None)
        for entry in reversed(self._history):  # the newest carrying it, as the node does
            if entry["config_version"] == version:
                return entry
        for entry in reversed(self._history):
            if len(version) >= 4 and entry["cluster_hash"].startswith(version):
                return entry
        return None

    @staticmethod
    def _hash_of(leaves: dict[str, Any]) -> str:
        cluster = {p: v for p, v in leaves.items()
                   if (i := registry.option_info(p)) is not None and i.scope == "cluster"}
        return blake3.blake3(orjson.dumps(cluster, option=orjson.OPT_SORT_KEYS)).hexdigest()
