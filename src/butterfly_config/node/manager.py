"""The node's configuration manager: the one place the running configuration changes.

Readers get an immutable `ButterflyConfig` snapshot; a change builds a new one
and swaps a single reference, so no reader ever sees half of a change.
Runtime updates follow DESIGN 1.6: static options are refused ("requires
restart") before anything else is looked at, dynamic-local options apply on
this node only and go to its local history, dynamic-consensus options go
through the protocol and apply when their commit certificate arrives.

Concurrency: one cluster-wide update at a time per node; a second request
while one is in flight gets 409 at once (clients retry), and the replica
refuses a proposal while another is being agreed anywhere in the cluster.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from butterfly_config.config import ButterflyConfig
from butterfly_config.consensus.encoding import encode
from butterfly_config.consensus.messages import Decided
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.history import AuditNote, Change, HistoryStore, RevisionEntry, VersionMatch
from butterfly_config.history.errors import AmbiguousVersion, RevisionNotFound
from butterfly_config.history.store import may_be_hash_prefix, revision_number
from butterfly_config.node import changes, document_reading, documents
from butterfly_config.node.agreement import ConsensusDriver, Outcome, new_request_id
from butterfly_config.node.mirror_writer import MirrorWriter
from butterfly_config.node.service import (
    Action,
    Identity,
    IfMatch,
    PatchOperation,
    UpdateRefused,
    UpdateResult,
    ValidationReport,
)
from butterfly_config.node.subscribers import SubscriberSet
from butterfly_config.redact import redact_tree

log = logging.getLogger("butterfly.manager")

LOCAL_OVERRIDES_KEY = "local_overrides"
Standing = tuple[float, str]  # a member's reputation score and state, as this node judges it


def action_of(request_id: str) -> Action:
    prefix = request_id.split("-", 1)[0]
    return prefix if prefix in ("update", "patch", "rollback", "reload") else "update"  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def changed_leaves(old_document: bytes | None, new_document: bytes) -> tuple[Change, ...]:
    """The cluster options that differ between two cluster documents (cached: a commit
    asks once for its history entry and once for its log line)."""
    new = document_reading.reading(new_document)
    if old_document is None:
        old = None
        differing = [p for p, value in new.values.items()
                     if not document_reading.same_value(None, value)]
    else:
        old = document_reading.reading(old_document)
        differing = list(document_reading.changed_paths(old_document, new_document))
    changes: list[Change] = []
    for path in differing:
        before = None if old is None else old.value(path)
        value = new.value(path)
        plain_before, plain_after = _plain(before), _plain(value)
        if plain_before != plain_after:
            changes.append(Change(path, plain_before, plain_after))
    return tuple(changes)


def _plain(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=_encode_default))


def _encode_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    return str(value)


@dataclass
class ReloadStatus:
    """What the last file reload found that could not be applied at runtime."""

    restart_required: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    last_error: str = ""


@dataclass
class ProposedUpdate:
    """A cluster update this node proposed for a client, remembered until its revision
    is decided: an update reported as aborted or timed out may still commit later
    (docs/consensus.md "Aborts"), and its audit record must then say so."""

    actor: str
    action: Action
    paths: tuple[str, ...]
    revision: int
    told: dict[str, Any] | None = None
    """What the client was answered if not a success: status, outcome, message."""


PROPOSED_KEPT = 64
"""Proposed updates remembered at most (the oldest are forgotten first): a commit of a
forgotten one is still audited, from its entry, without what its client was told."""

STALE_RETRIES = 3
STALE_CATCH_UP_S = 1.0
"""After a stale refusal: how long to wait for this node to apply what it lacked."""


class StaleBase(UpdateRefused):
    """The coordinator was at another head than the one the update was built on."""


def _needs_restart(path: str) -> ConfigIssue:
    return ConfigIssue(
        path,
        f"{path} is static: this document changes it, so proposing it is refused (409)",
        hint="static options change only by editing the node files and restarting; "
        "options a document leaves out go back to their defaults, so start from "
        "GET /api/v1/config",
        rule="static-change",
        severity="warning",
    )


class ConfigManager:
    """Implements `ConfigService` for one node."""

    def __init__(
        self,
        *,
        base: ButterflyConfig,
        store: HistoryStore,
        subscribers: SubscriberSet | None = None,
        on_local_change: Callable[[ButterflyConfig, ButterflyConfig], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = base
        self._store = store
        self.subscribers = subscribers or SubscriberSet()
        self._on_local_change = on_local_change
        self._clock = clock
        self._local: dict[str, Any] = self._load_local_overrides()
        head = store.latest()
        if head is None:
            raise RuntimeError("the history store has no revision 0; bootstrap it first")
        self._head_document = head.document
        self._revision = head.revision
        self._applied_at = head.timestamp
        self._current = documents.apply_document(base, head.document, self._local, head.revision)
        self._driver: ConsensusDriver | None = None
        self._update_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.reload_status = ReloadStatus()
        self.ready: tuple[bool, str] = (False, "starting")
        self.status_provider: Callable[[], dict[str, Any]] = lambda: {}
        self.sync_trigger: Callable[[], None] = lambda: None
        # member -> (score, state) before and after resetting it; None: not a member
        self.reputation_reset: Callable[[str], tuple[Standing, Standing] | None] | None = None
        self.metrics_hook: Callable[[str, Any], None] = lambda _name, _value: None
        self.decision_timeout_s = 15.0
        # document -> (revision it was built for, the configuration this node would run):
        # built once per proposal, reused by the veto check and by apply.
        self._prepared: dict[bytes, tuple[int, ButterflyConfig]] = {}
        # request id -> what this node proposed and answered, for the audit of its commit
        self._proposed: dict[str, ProposedUpdate] = {}
        self._mirror_writer = MirrorWriter()

    # -- wiring ---------------------------------------------------------------
    def attach(self, driver: ConsensusDriver) -> None:
        self._driver = driver

    def _load_local_overrides(self) -> dict[str, Any]:
        raw = self._store.get_meta(LOCAL_OVERRIDES_KEY)
        if not raw:
            return {}
        try:
            loaded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.error("ignoring unreadable local overrides in the history store")
            return {}
        return dict(loaded) if isinstance(loaded, dict) else {}

    # -- reading --------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return str(self._current.model.node.node_id or "")

    @property
    def config(self) -> ButterflyConfig:
        """The current immutable snapshot."""
        return self._current

    @property
    def base(self) -> ButterflyConfig:
        return self._base

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def cluster_hash(self) -> str:
        return self._current.cluster_hash

    @property
    def applied_at(self) -> float:
        return self._applied_at

    @property
    def head_document(self) -> bytes:
        return self._head_document

    @property
    def local_overrides(self) -> dict[str, Any]:
        return dict(self._local)

    def current_document(self) -> dict[str, Any]:
        return redact_tree(self._current.to_dict())

    def current_toml(self) -> str:
        from butterfly_config.sources.toml_writer import to_toml

        return to_toml(self.current_document())

    def is_ready(self) -> tuple[bool, str]:
        return self.ready

    def cluster_status(self) -> dict[str, Any]:
        return self.status_provider()

    def restart_required_paths(self) -> list[str]:
        return sorted(self.reload_status.restart_required)

    # -- checks ---------------------------------------------------------------
    def validate_document(self, document: dict[str, Any]) -> ValidationReport:
        """Whether `document` is a valid configuration, and what stops it being applied live.

        A valid document that changes static options is still valid (a file and a
        restart can carry it), but proposing it is refused with 409: each such
        option is reported as a warning, so a pre-flight check does not promise
        an update the node will refuse. Unknown keys are errors, reported with
        every issue of the options the document does name (one pass shows all).
        """
        values, unknown = changes.document_values(document)
        static = sorted(changes.plan(values, self._current).static)
        restart = [_needs_restart(path) for path in static]
        try:
            candidate = self._current.with_values(values)
        except ConfigError as exc:
            errors = [i for i in exc.errors if i.severity == "error"]
            warnings = [i for i in exc.errors if i.severity == "warning"]
            return ValidationReport(False, [*unknown, *errors], [*restart, *warnings])
        return ValidationReport(not unknown, unknown, [*restart, *candidate.warnings])

    # -- updates --------------------------------------------------------------
    async def update_document(
        self, document: dict[str, Any], *, identity: Identity, action: Action = "update",
        if_match: IfMatch = None,
    ) -> UpdateResult:
        values, issues = changes.document_values(document)
        return await self._on_current_head(
            lambda: self._change(values, issues, identity, action), identity, action, if_match)

    async def patch(
        self, operations: list[PatchOperation], *, identity: Identity, if_match: IfMatch = None
    ) -> UpdateResult:
        def attempt() -> Awaitable[UpdateResult]:  # a merge reads the current configuration
            values, issues = changes.requested_values(operations, self._current)
            return self._change(values, issues, identity, "patch")

        return await self._on_current_head(attempt, identity, "patch", if_match)

    async def _on_current_head(
        self, attempt: Callable[[], Awaitable[UpdateResult]], identity: Identity,
        action: Action, if_match: IfMatch = None,
    ) -> UpdateResult:
        """Run an update; if the coordinator was at a newer head than the one it was built
        on, catch up with the cluster and build it again on the newer head.

        An update commits only as the revision after the head it was built on (the
        coordinator refuses it as stale otherwise), so a node that had not yet
        applied the latest commit never sets back what that commit changed. The
        If-Match precondition is checked before every try, against the head that
        try builds on.
        """
        retries_left = STALE_RETRIES
        while True:
            before = self._revision
            self._check_precondition(if_match, identity, action)
            try:
                return await attempt()
            except StaleBase:
                if not retries_left:
                    raise
                retries_left -= 1
                await self._catch_up(before)

    async def _catch_up(self, before: int) -> bool:
        """Ask the peers for revisions after this node's head; True when one arrived
        (within STALE_CATCH_UP_S)."""
        self.sync_trigger()
        return await self.wait_for_revision(before, STALE_CATCH_UP_S) > before

    def _check_precondition(self, if_match: IfMatch, identity: Identity, action: Action) -> None:
        if if_match is None or self.cluster_hash in if_match:
            return
        self.audit(identity.subject, action, "precondition-failed",
                   {"expected": sorted(if_match), "cluster_hash": self.cluster_hash})
        self.metrics_hook("update", "precondition_failed")
        raise UpdateRefused(
            412, f"the configuration changed since it was read: revision {self._revision}, "
                 f"cluster_hash {self.cluster_hash}; nothing applied - read it again "
                 "(GET /api/v1/config) and redo the change")

    async def apply_reload(
        self, local: dict[str, Any], cluster: dict[str, Any], *, identity: Identity
    ) -> UpdateResult | None:
        """Apply what an edited file changed (static changes were filtered out by the caller)."""
        values = {**local, **cluster}
        if not values:
            return None
        return await self._on_current_head(
            lambda: self._change(values, [], identity, "reload"), identity, "reload")

    def apply_file_local(
        self, values: dict[str, Any], *, identity: Identity
    ) -> UpdateResult | None:
        """Take an edited file's new dynamic-local values (static ones filtered out by the caller).

        They become this node's file-level values rather than runtime
        overrides: the file is where they come from, so a restart with the same
        file runs the same values, and an older runtime override of the same
        option gives way to the newer edit. Recorded in the local history.
        """
        if not values:
            return None
        local = {p: v for p, v in self._local.items() if p not in values}
        try:
            base = self._base.with_values(values)
            new = documents.apply_document(base, self._head_document, local, self._revision)
        except ConfigError as exc:
            self.metrics_hook("validation_failure", 1)
            self.audit(identity.subject, "reload", "invalid", {"paths": sorted(values)})
            raise UpdateRefused(400, "the configuration is invalid", exc.errors) from exc
        self._local_veto(new, sorted(values), identity, "reload")
        old = self._current
        paths = sorted(values)
        change_list = [Change(p, _plain(old.get_value(p)), _plain(new.get_value(p))) for p in paths]
        self._store.append_local_change(
            identity.subject, "reload", change_list, document=orjson.dumps(local, default=_plain)
        )
        if local != self._local:
            self._store.set_meta(LOCAL_OVERRIDES_KEY, orjson.dumps(local, default=_plain).decode())
            self._local = local
        self._base = base
        self._prepared.clear()
        self._swap(new)
        self.audit(identity.subject, "reload", "applied-local", {"paths": paths})
        if self._on_local_change is not None:
            self._on_local_change(old, new)
        self.subscribers.notify(old, new)
        return self._result(scope="local", changed=tuple(paths))

    async def rollback(
        self, version: str, *, identity: Identity, if_match: IfMatch = None
    ) -> UpdateResult:
        return await self._on_current_head(
            lambda: self._rollback(version, identity), identity, "rollback", if_match)

    async def _rollback(self, version: str, identity: Identity) -> UpdateResult:
        try:
            match = await self._rollback_target(version)
        except (RevisionNotFound, AmbiguousVersion) as exc:
            raise UpdateRefused(400, exc.render()) from exc
        target = match.entry
        if match.note:
            log.info("rollback %s: %s", version, match.note)
        base = self._revision
        reason = documents.check_cluster_document(target.document, self._head_document)
        if reason is not None:
            status = 409 if "requires restart" in reason else 400
            self.audit(identity.subject, "rollback", "refused", {"to": version, "why": reason})
            raise UpdateRefused(status, f"cannot roll back to revision {target.revision}: {reason}")
        _, why = documents.why_not_here(self._base, target.document, self._local, self._revision)
        if why is not None:
            raise UpdateRefused(400, f"cannot roll back to revision {target.revision}: {why}")
        changed = tuple(c.path for c in changed_leaves(self._head_document, target.document))
        result = await self._propose(target.document, identity, "rollback", changed, base=base)
        self.metrics_hook("rollback", 1)
        return dataclasses.replace(result, target_revision=target.revision, note=match.note)

    async def _rollback_target(self, version: str) -> VersionMatch:
        """The revision `version` names, fetching from the peers when this node lacks it.

        The operator may have read the target in another node's history: a member
        that has not received it yet asks its peers before saying it does not exist.
        A number at or below this node's head is answered at once, and so is text
        that is not a hash prefix: a config_version is static-critical, so no
        revision this node lacks can carry one it has not seen (a typo is refused
        without waiting for peers).
        """
        number = revision_number(version)
        if number is not None:
            may_be_newer = number > self._revision
        else:  # too many digits name no revision
            may_be_newer = may_be_hash_prefix(version)
        retries_left = STALE_RETRIES
        while True:
            try:
                return self._store.resolve_version(version)
            except RevisionNotFound:
                if not (retries_left and may_be_newer) or self._standalone():
                    raise
                retries_left -= 1
                if not await self._catch_up(self._revision):
                    raise  # nothing newer arrived: it does not exist

    def _standalone(self) -> bool:
        return bool(self.status_provider().get("standalone", True))

    async def _change(
        self,
        values: dict[str, Any],
        issues: list[ConfigIssue],
        identity: Identity,
        action: Action,
    ) -> UpdateResult:
        base = self._revision
        known = {p: v for p, v in values.items() if p in _known_paths()}
        plan = changes.plan(known, self._current)
        if plan.static:
            paths = sorted(plan.static)
            self.audit(identity.subject, action, "refused", {"static": paths})
            self.metrics_hook("update", "refused_static")
            raise UpdateRefused(
                409,
                f"requires restart: {', '.join(paths)} cannot change at runtime",
                restart_required=paths,
            )
        if issues:
            self.metrics_hook("update", "invalid")
            raise UpdateRefused(400, "the request names unknown options or is malformed",
                                [*issues, *self._errors_of(plan)])
        if plan.empty:
            return self._result(scope="cluster", changed=())
        validate_started = time.monotonic()
        try:
            candidate = self._candidate(plan.cluster, plan.local)
        except ConfigError as exc:
            self.metrics_hook("validation_failure", 1)
            self.metrics_hook("update", "invalid")
            self.audit(identity.subject, action, "invalid", {"paths": sorted(plan.all_values)})
            raise UpdateRefused(400, "the configuration is invalid", exc.errors) from exc
        self.metrics_hook("phase", ("validate", time.monotonic() - validate_started))
        if plan.local:
            self._local_veto(candidate, sorted(plan.local), identity, action)
        result: UpdateResult | None = None
        if plan.cluster:
            document = documents.document_of(candidate)
            if not plan.local:
                self._remember(document, self._revision + 1, candidate)
            result = await self._propose(document, identity, action, tuple(sorted(plan.cluster)),
                                         base=base, built_here=True)
        if plan.local:
            local = self._apply_local(plan.local, identity, action)
            # one request that changed both: the cluster revision it made, and every path
            result = local if result is None else dataclasses.replace(
                result, changed_paths=tuple(sorted({*result.changed_paths, *local.changed_paths})))
        assert result is not None
        return result

    def _errors_of(self, plan: changes.ChangePlan) -> list[ConfigIssue]:
        """The errors the rest of a malformed request would meet, so that one answer
        lists every problem of the request, not only its unknown paths."""
        if plan.empty:
            return []
        try:
            self._candidate(plan.cluster, plan.local)
        except ConfigError as exc:
            return [issue for issue in exc.errors if issue.severity == "error"]
        return []

    def _candidate(self, cluster: dict[str, Any], local: dict[str, Any]) -> ButterflyConfig:
        """The configuration an update would give this node.

        Built from the base as `documents.apply_document` builds a committed
        revision, so that when only cluster options change it is exactly what
        this node will run once the proposal commits, and can be reused then.
        """
        if local:
            return self._current.with_values({**cluster, **local})
        # the head's values where they are not the base's own, with the request's on top
        head = document_reading.reading(self._head_document)
        values = {path: head.value(path) for path in document_reading.changed_paths(
            documents.base_document(self._base), self._head_document)}
        values.update(cluster)
        values = documents.differing_from(self._base, values)
        values.update(self._local)
        return self._base.with_values(values, revision=self._revision + 1)

    def _remember(self, document: bytes, revision: int, config: ButterflyConfig) -> None:
        if len(self._prepared) >= 4:
            self._prepared.clear()
        self._prepared[document] = (revision, config)

    async def _propose(
        self,
        document: bytes,
        identity: Identity,
        action: Action,
        changed: tuple[str, ...] = (),
        *,
        base: int,
        built_here: bool = False,
    ) -> UpdateResult:
        """Agree on `document` with the cluster, as the revision after `base`.

        `built_here`: the document was encoded from a configuration this node has
        just built and validated (an update), so its deterministic check against
        defaults is left to the coordinator, which refuses what fails it (HTTP
        400 here). This node runs the same check once the request is on its way,
        while the coordinator works on it: its own check of the PROPOSE then finds
        the answer ready. Other documents (a rollback target) are checked first.
        """
        if self._driver is None:
            raise UpdateRefused(503, "the node is not connected to its cluster yet")
        if self._update_lock.locked():
            raise UpdateRefused(409, "another update is in progress on this node; retry shortly")
        head = self._head_document
        if not built_here:
            reason = documents.check_cluster_document(document, head)
            if reason is not None:
                status = 409 if "requires restart" in reason else 400
                raise UpdateRefused(status, reason)
        async with self._update_lock:
            started = time.monotonic()
            request_id = new_request_id(action)
            self._remember_proposed(request_id, ProposedUpdate(
                identity.subject, action, changed, base + 1))
            future = self._driver.propose(document, initiator=identity.subject, action=action,
                                          revision=base + 1, request_id=request_id)
            if built_here:  # after the request's frame is written (callbacks run in order)
                asyncio.get_running_loop().call_soon(
                    documents.check_cluster_document, document, head)
            try:
                outcome = await asyncio.wait_for(asyncio.shield(future), self.decision_timeout_s)
            except TimeoutError:
                self._driver.forget(future)
                # decided in the very iteration the wait ran out: that is the answer
                outcome = future.result() if future.done() else self._timed_out()
            self.metrics_hook("phase", ("agreement", time.monotonic() - started))
        return self._outcome_result(outcome, identity, action, changed, request_id)

    def _timed_out(self) -> Outcome:
        return Outcome(False, kind="timeout", reason=(
            f"no outcome within {self.decision_timeout_s:g} s (no quorum or consensus timeout)"))

    def _remember_proposed(self, request_id: str, update: ProposedUpdate) -> None:
        while len(self._proposed) >= PROPOSED_KEPT:
            del self._proposed[next(iter(self._proposed))]
        self._proposed[request_id] = update

    def commit_audit(self, decided: Decided, previous_document: bytes | None) -> AuditNote:
        """The audit record of a revision this node originated (a ProposalCommitted), to be
        stored with the revision: one transaction, so a waiting client's reply waits for one
        fsync, not two.

        Also when its client was told it had not committed (aborted, timed out): the
        protocol may still finish such an update, and the audit log must not contradict
        the history. An origin that no longer knows the request (restarted since)
        builds the record from the entry.
        """
        entry = decided.entry
        update = self._proposed.pop(entry.request_id, None)
        if update is None:
            paths = tuple(c.path for c in changed_leaves(previous_document, entry.document))
            update = ProposedUpdate(entry.initiator, action_of(entry.request_id), paths,
                                    entry.revision)
        detail: dict[str, Any] = {"revision": entry.revision, "paths": list(update.paths),
                                  "request_id": entry.request_id}
        if update.told is not None:
            detail["client_told"] = update.told
            detail["note"] = ("committed after its client was told it had not; the client "
                              "may have sent it again")
        return AuditNote(update.actor, update.action, "committed", detail)

    def commit_recorded(self, note: AuditNote) -> None:
        """After `commit_audit`'s record is stored with its revision: say so when the
        client had been told otherwise (logged and counted only once it is durable)."""
        told = note.detail.get("client_told")
        if told is None:
            return
        log.warning("revision %d commits request %s, whose client was told %d: %s",
                    note.detail["revision"], note.detail["request_id"], told["status"],
                    told["message"])
        self.metrics_hook("update", "committed_late")

    def _outcome_result(
        self,
        outcome: Outcome,
        identity: Identity,
        action: Action,
        changed: tuple[str, ...],
        request_id: str,
    ) -> UpdateResult:
        """The client's answer. A commit was audited with its revision (`commit_audit`);
        anything else is audited here and remembered, in case it still commits."""
        if outcome.committed:
            self.metrics_hook("update", "committed")
            return self._result(scope="cluster", changed=changed)
        kind = outcome.kind or "aborted"
        refusal = self._refusal(outcome, request_id)
        update = self._proposed.get(request_id)
        if update is not None:
            update.told = {"status": refusal.status, "outcome": kind, "message": refusal.message}
        detail = {"reason": outcome.reason, "rejected_by": list(outcome.rejected_by),
                  "request_id": request_id}
        self.audit(identity.subject, action, kind, detail)
        self.metrics_hook("update", kind)
        raise refusal

    def _refusal(self, outcome: Outcome, request_id: str) -> UpdateRefused:
        """The HTTP refusal for an update that did not commit (now)."""
        if outcome.kind == "busy":
            return UpdateRefused(409, f"the coordinator is busy: {outcome.reason}; retry shortly")
        if outcome.kind == "invalid":
            return UpdateRefused(400, f"refused by the coordinator: {outcome.reason}")
        if outcome.kind == "veto":
            return UpdateRefused(
                409, f"update aborted by the coordinator: {outcome.reason}; nothing applied")
        if outcome.kind == "stopped":
            return UpdateRefused(503, f"this node is stopping: {outcome.reason}; nothing was "
                                      "sent - send the update to another node")
        if outcome.kind == "not_ready":
            return UpdateRefused(503, f"no established coordinator: {outcome.reason}")
        if outcome.kind == "stale":
            return StaleBase(409, f"the configuration changed while this update was being "
                                  f"agreed ({outcome.reason}); nothing applied - retry")
        if not outcome.rejected_by:
            # Nobody refused it: a timeout or a lost quorum. Some members may have voted for
            # it, and the protocol may have to finish it once they are back.
            return UpdateRefused(503, self._undecided_message(outcome.reason, request_id),
                                 request_id=request_id)
        who = ", ".join(outcome.rejected_by)
        return UpdateRefused(409, f"update aborted by {who}: {outcome.reason}; nothing applied")

    def _undecided_message(self, reason: str, request_id: str) -> str:
        """A 503 that tells the operator how to learn whether the update commits later."""
        proposed = self._proposed.get(request_id)
        pending = proposed.revision if proposed is not None else self._revision + 1
        return (f"no decision: {reason}; nothing applied now, but the update may still commit "
                f"once enough members answer. Its request id is {request_id}: if it commits, "
                f"it is revision {pending}, listed with that request_id by `butterfly config "
                f"history --format json` (GET /api/v1/config/history), and this node's audit "
                f"log records it as committed; GET /api/v1/config/watch?after={pending - 1} "
                f"returns once revision {pending} is committed (this update or another). "
                f"Check before retrying{self._view_change_note()}")

    def _view_change_note(self) -> str:
        """Why no decision came, when this node is in a view change: it may be alone in a
        view its peers never joined (it votes in no lower view), so another node may
        answer sooner."""
        status = self.status_provider()
        if status.get("established", True):
            return ""
        return (f". This node is in a view change to view {status.get('view')} that its "
                "peers have not completed, so it votes in no update until they join or it "
                "rejoins them; it sent the update to every member, and the coordinator its "
                "peers follow can still get it agreed. `butterfly cluster status` on another "
                "node shows their view; sending updates to one of them avoids the wait")

    def _local_veto(
        self, candidate: ButterflyConfig, paths: list[str], identity: Identity, action: Action
    ) -> None:
        """Dynamic-local changes skip the protocol, so this node's subscribers are asked here
        (for cluster changes they are asked in PREPARE); a veto refuses the whole request."""
        reason = self.subscribers.veto(candidate)
        if reason is not None:
            self.audit(identity.subject, action, "vetoed", {"paths": paths, "reason": reason})
            self.metrics_hook("update", "vetoed")
            raise UpdateRefused(409, f"update aborted by {self.node_id}: {reason}; nothing applied")

    def _apply_local(
        self, values: dict[str, Any], identity: Identity, action: Action
    ) -> UpdateResult:
        merged = {**self._local, **values}
        new = documents.apply_document(self._base, self._head_document, merged, self._revision)
        old = self._current
        change_list = [Change(p, _plain(old.get_value(p)), _plain(v)) for p, v in values.items()]
        self._store.append_local_change(
            identity.subject, action, change_list, document=orjson.dumps(merged, default=_plain)
        )
        self._store.set_meta(LOCAL_OVERRIDES_KEY, orjson.dumps(merged, default=_plain).decode())
        self._local = merged
        self._prepared.clear()
        self._swap(new)
        self.audit(identity.subject, action, "applied-local", {"paths": sorted(values)})
        if self._on_local_change is not None:
            self._on_local_change(old, new)
        self.subscribers.notify(old, new)
        return self._result(scope="local", changed=tuple(sorted(values)))

    def _result(
        self, *, scope: Literal["cluster", "local"], changed: tuple[str, ...]
    ) -> UpdateResult:
        return UpdateResult(
            revision=self._revision,
            version=str(self._current.model.metadata.config_version),
            cluster_hash=self._current.cluster_hash,
            applied_at=self._applied_at,
            rollback_available=self._revision > 0,
            scope=scope,
            changed_paths=changed,
        )

    # -- applying committed revisions (called by the driver) ------------------
    def revision_entry(self, decided: Decided, previous_document: bytes | None) -> RevisionEntry:
        entry = decided.entry
        config_version = document_reading.value_of(entry.document, "metadata.config_version")
        return RevisionEntry(
            revision=entry.revision,
            document=entry.document,
            doc_hash=entry.doc_hash,
            parent_digest=entry.parent_digest,
            entry_digest=entry.digest,
            timestamp=self._clock(),
            proposer=entry.origin,
            initiator=entry.initiator,
            action=action_of(entry.request_id),
            changes=changed_leaves(previous_document, entry.document),
            certificate=encode(decided.certificate) if decided.certificate is not None else None,
            config_version=str(config_version) if config_version is not None else None,
            request_id=entry.request_id,
        )

    def apply_committed(self, decided: Decided) -> None:
        entry = decided.entry
        if entry.revision <= self._revision:
            return
        previous = self._head_document
        prepared = self._prepared.pop(entry.document, None)
        new = prepared[1] if prepared is not None and prepared[0] == entry.revision else None
        why = None
        if new is None:
            new, why = documents.why_not_here(
                self._base, entry.document, self._local, entry.revision
            )
        self._prepared.clear()
        self._forget_proposed(entry.revision)
        self._head_document = entry.document
        self._revision = entry.revision
        self._applied_at = self._clock()
        self.metrics_hook("revision", entry.revision)
        if new is None:
            # Decided by the cluster, but this node's own options conflict with it.
            log.error("revision %d is committed but %s; node not ready", entry.revision, why)
            self.ready = (False, f"revision {entry.revision} {why}")
            self._changed.set()
            self._changed = asyncio.Event()
            return
        old = self._current
        apply_started = time.monotonic()
        self._swap(new)
        self.metrics_hook("phase", ("apply", time.monotonic() - apply_started))
        changed = ", ".join(c.path for c in changed_leaves(previous, entry.document))
        # the agreed document's hash: this node's own hash of it is computed when asked
        # for (status, heartbeats), not on the path of every commit
        log.info("applied revision %d (%s): %s", entry.revision, entry.doc_hash[:12],
                 changed or "no option changed")
        self.subscribers.notify(old, new)

    def _forget_proposed(self, revision: int) -> None:
        """Requests meant to become `revision` or earlier: decided now, and not as
        theirs (their own commit's audit took them already), so they never will be."""
        for request_id, update in list(self._proposed.items()):
            if update.revision <= revision:
                del self._proposed[request_id]

    def _swap(self, new: ButterflyConfig) -> None:
        self._current = new
        self._changed.set()
        self._changed = asyncio.Event()
        self._mirror_writer.submit(new, self._revision)

    def close(self) -> None:
        """Write the pending mirror (called when the node stops)."""
        self._mirror_writer.close()

    def veto(self, document: bytes) -> str | None:
        """This node's local judgement of a proposal (its own options, its subscribers).

        The configuration built for the check is kept, so applying the same
        document once it commits does not build it again.
        """
        revision = self._revision + 1
        prepared = self._prepared.get(document)
        if prepared is not None and prepared[0] == revision:
            return self.subscribers.veto(prepared[1])
        proposed, why = documents.why_not_here(self._base, document, self._local, revision)
        if proposed is None:
            return why
        self._remember(document, revision, proposed)
        return self.subscribers.veto(proposed)

    # -- history, watch, sync, audit ------------------------------------------
    def history(self, limit: int, scope: Literal["cluster", "local"]) -> list[dict[str, Any]]:
        limit = max(1, min(limit, 1000))
        if scope == "local":
            return [
                {
                    "seq": c.seq,
                    "timestamp": c.timestamp,
                    "initiator": c.initiator,
                    "action": c.action,
                    "changes": [{"path": x.path, "old": x.old, "new": x.new} for x in c.changes],
                }
                for c in self._store.list_local_changes(limit)
            ]
        return [
            {
                "revision": e.revision,
                "cluster_hash": e.doc_hash,
                "parent_digest": e.parent_digest,
                "entry_digest": e.entry_digest,
                "timestamp": e.timestamp,
                "proposer": e.proposer,
                "initiator": e.initiator,
                "action": e.action,
                "version": e.config_version,
                "changes": [{"path": x.path, "old": x.old, "new": x.new} for x in e.changes],
                "certified": e.certificate is not None,
                "request_id": e.request_id,
            }
            for e in self._store.list_revisions(limit)
        ]

    async def wait_for_revision(self, after: int, timeout: float) -> int:
        deadline = asyncio.get_running_loop().time() + max(0.0, timeout)
        while self._revision <= after:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                break
        return self._revision

    async def sync(self, timeout: float = 5.0) -> dict[str, Any]:
        """Fetch missing revisions from the peers now; returns once caught up.

        "Caught up" means the highest revision any peer announced in its last
        heartbeat; with nobody ahead it returns at once, otherwise it waits
        (at most `timeout`) for the fetched revisions to be verified and applied.
        """
        before = self._revision
        self.sync_trigger()
        target = max([before, *self._announced_revisions()])
        deadline = asyncio.get_running_loop().time() + timeout
        while self._revision < target:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self.wait_for_revision(self._revision, remaining)
        return {"revision_before": before, "revision": self._revision,
                "cluster_hash": self.cluster_hash}

    def _announced_revisions(self) -> list[int]:
        nodes = self.status_provider().get("nodes") or []
        return [int(n["revision"]) for n in nodes
                if isinstance(n, dict) and isinstance(n.get("revision"), int)]

    def reset_reputation(self, member: str, *, identity: Identity) -> dict[str, Any]:
        """Lift this node's isolation of `member` (operator action, this node only).

        An isolated member's messages are ignored, so it can never earn its
        score back by itself, even once its operator has fixed it.
        """
        if self.reputation_reset is None:
            raise UpdateRefused(503, "the node is not connected to its cluster yet")
        standings = self.reputation_reset(member)
        if standings is None:
            self.audit(identity.subject, "reputation-reset", "refused",
                       {"member": member, "reason": "not a member"})
            raise UpdateRefused(404, f"{member!r} is not a member of this cluster", [ConfigIssue(
                path="node_id", message=f"no member is called {member!r}",
                hint="`butterfly cluster status` lists the members", rule="membership")])
        (before, was), (after, now) = standings
        self.audit(identity.subject, "reputation-reset", "reset", {
            "member": member, "previous_reputation": before, "previous_state": was,
            "reputation": after, "state": now})
        log.info("reputation of %s reset by %s: %.1f (%s) -> %.1f (%s)",
                 member, identity.subject, before, was, after, now)
        return {"node_id": self.node_id, "member": member, "reputation": after, "state": now,
                "previous_reputation": before, "previous_state": was}

    def audit(self, actor: str, action: str, outcome: str, detail: dict[str, Any]) -> None:
        try:
            self._store.audit(actor, action, outcome, detail)
        except Exception:  # auditing must never take the node down; say so loudly
            log.exception("could not write an audit record")


def _known_paths() -> frozenset[str]:
    from butterfly_config.schema.registry import options

    return frozenset(options())
