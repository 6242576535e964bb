"""One running node: builds the parts from its configuration and runs them in one loop.

Start-up order matters for safety: the history store is opened and its chain
and certificates verified before anything is served; the consensus replica is
rebuilt from that verified history and its persisted hard state; only then do
the peer endpoint, the API and the tick loop start. Stopping is the reverse,
and the store is closed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from butterfly_config import paths
from butterfly_config.canonical import digest
from butterfly_config.config import ButterflyConfig
from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import (
    EcdsaP256Signer,
    Ed25519Signer,
    Signer,
    generate_signer,
)
from butterfly_config.consensus.messages import GENESIS_PARENT, Decided, entry_digest
from butterfly_config.consensus.params import ConsensusParams, Member, ReputationParams
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import (
    CaughtUp,
    Event,
    EvidenceFound,
    HardState,
    ProposalAborted,
    ProposalCommitted,
    ReputationChanged,
    Verdict,
    ViewChanged,
    ViewChangeFailed,
)
from butterfly_config.errors import ConfigError, ConfigIOError, ConfigIssue
from butterfly_config.history import HistoryStore, RevisionEntry
from butterfly_config.history.errors import HistoryCorrupt, HistoryError
from butterfly_config.node import document_reading, documents
from butterfly_config.node.agreement import ConsensusDriver
from butterfly_config.node.liveness import LivenessHooks, LivenessService, next_epoch
from butterfly_config.node.logging_setup import LogSettings, apply_logging
from butterfly_config.node.manager import ConfigManager, Standing
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.recovery import (
    check_store_cluster,
    conflict_problem,
    genesis_entry,
    rebuild_hint,
    recover_history,
    static_conflicts,
    to_decided,
)
from butterfly_config.node.servers import bind_socket, make_server, serve_on, wait_started
from butterfly_config.node.service import UpdateRefused
from butterfly_config.node.state_codec import StateCorrupt, decode_hard_state, encode_hard_state
from butterfly_config.node.transport import HEARTBEAT_PATH, PeerTransport, RetryPolicy
from butterfly_config.schema.root import ConfigModel

log = logging.getLogger("butterfly.node")

_STOPPING = ("this node is stopping: it could not carry out a batch of its consensus work "
             "(see its log); the reset is not kept")

TICK_INTERVAL_S = 0.025  # protocol timers are hundreds of ms; finer ticks only cost CPU
GENESIS_PATH = "/peer/v1/genesis"


def log_settings(config: ButterflyConfig) -> LogSettings:
    model = config.model
    logging_ = model.observability.logging
    return LogSettings(
        level=logging_.level,
        format=logging_.format,
        output=logging_.output,
        file_path=config.resolve_path(str(logging_.file_path)) if logging_.file_path else None,
        include_source_location=logging_.include_source_location,
        filters=dict(logging_.filters),
        node_id=str(model.node.node_id or ""),
    )


# -- keys and members -----------------------------------------------------------------
def load_signer(model: ConfigModel, standalone: bool, base_dir: str | None = None) -> Signer:
    from butterfly_config.node.security.signing_keys import load_private_key

    node_id = str(model.node.node_id)
    algorithm = model.security.signing.algorithm
    if algorithm not in ("ed25519", "ecdsa_p256"):
        raise ConfigError(
            f"signing algorithm {algorithm!r} cannot sign consensus messages",
            [ConfigIssue("security.signing.algorithm",
                         f"{algorithm} is not supported for consensus messages",
                         hint='use "ed25519" (recommended) or "ecdsa_p256"', rule="signing")],
        )
    path = Path(paths.resolve_path(str(model.security.signing.private_key_file), base_dir))
    if not path.exists() and standalone:
        log.warning("no signing key at %s: a standalone node signs with a key of this run only",
                    path)
        return generate_signer(node_id, algorithm)
    key = load_private_key(path)
    if algorithm == "ed25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigIOError(f"{path}: not an ed25519 private key",
                                hint="security.signing.algorithm must match the key file")
        return Ed25519Signer(node_id, key)
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigIOError(f"{path}: not an ecdsa_p256 private key",
                            hint="security.signing.algorithm must match the key file")
    return EcdsaP256Signer(node_id, key)


def _public_key_bytes(value: str, base_dir: str | None, option: str) -> bytes:
    from butterfly_config.node.security.signing_keys import load_verify_key

    key = load_verify_key(value, base_dir=base_dir, option=option)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def consensus_params(model: ConfigModel, signer: Signer, base_dir: str | None) -> ConsensusParams:
    node_id = str(model.node.node_id)
    byz = model.byzantine
    configured = model.cluster.members
    if configured:
        members = tuple(
            Member(m.node_id, str(m.addr),
                   _public_key_bytes(m.public_key, base_dir, f"cluster.members[{i}].public_key"))
            for i, m in enumerate(configured)
        )
        f = byz.f_value
        if node_id not in {m.node_id for m in members}:
            raise ConfigError(
                f"this node ({node_id}) is not in cluster.members",
                [ConfigIssue("node.node_id", f"{node_id} is not one of cluster.members",
                             hint="add this node to [[cluster.members]] or fix node.node_id",
                             rule="membership")],
            )
    else:
        members = (Member(node_id, str(model.network.listen_addr), signer.public_key_bytes()),)
        f = 0
    coordinator = str(model.network.coordinator_addr)
    index = next((i for i, m in enumerate(members) if m.addr == coordinator), 0)
    rep = byz.reputation
    return ConsensusParams(
        cluster_name=model.metadata.cluster_name,
        members=members,
        f=f,
        coordinator_index=index,
        protocol=byz.agreement.protocol,
        signing_algorithm=signer.algorithm,
        pre_prepare_timeout_ms=byz.agreement.pre_prepare_timeout_ms,
        prepare_timeout_ms=byz.agreement.prepare_timeout_ms,
        commit_timeout_ms=byz.agreement.commit_timeout_ms,
        timeout_multiplier=byz.timeout_multiplier,
        view_change_timeout_ms=byz.view_change.timeout_ms,
        backoff_multiplier=byz.view_change.backoff_multiplier,
        max_view_change_attempts=byz.view_change.max_view_change_attempts,
        reputation=ReputationParams(
            enabled=rep.enabled,
            initial_score=rep.initial_score,
            suspect_threshold=rep.suspect_threshold,
            isolate_threshold=rep.isolate_threshold,
            recovery_rate=rep.recovery_rate,
            decay_rate=rep.decay_rate,
            critical_failure_penalty=rep.critical_failure_penalty,
        ),
    )


def _protocol_inputs(model: ConfigModel) -> tuple[object, ...]:
    """Every option `consensus_params` and the failure detector read."""
    return (model.node.node_id, model.metadata.cluster_name, model.cluster.members,
            model.network.listen_addr, model.network.coordinator_addr, model.byzantine)


def protocol_status(params: ConsensusParams) -> dict[str, Any]:
    """The agreement timeouts and reputation thresholds in force (they change live)."""
    return {
        "protocol": params.protocol,
        "pre_prepare_timeout_ms": params.pre_prepare_timeout_ms,
        "prepare_timeout_ms": params.prepare_timeout_ms,
        "commit_timeout_ms": params.commit_timeout_ms,
        "timeout_multiplier": params.timeout_multiplier,
        "view_change_timeout_ms": params.view_change_timeout_ms,
        "reputation_suspect_threshold": params.reputation.suspect_threshold,
        "reputation_isolate_threshold": params.reputation.isolate_threshold,
    }


def tls_contexts(model: ConfigModel, base_dir: str | None = None) -> tuple[
        ssl.SSLContext | None, ssl.SSLContext | None, ssl.SSLContext | None]:
    """(API server, peer server, peer client) contexts; all None when TLS is off."""
    tls = model.security.tls
    if not tls.enabled:
        return None, None, None
    from butterfly_config.node.security.tls_material import client_ssl_context, server_ssl_context

    minimum = str(tls.min_tls_version)
    cert, key, ca = (paths.resolve_path(str(p), base_dir)
                     for p in (tls.cert_file, tls.key_file, tls.ca_file))
    api = server_ssl_context(cert, key, ca, verify_client=False, min_tls_version=minimum)
    if model.security.api.auth_method == "mtls":
        # The certificate names the caller; health and metrics stay reachable without one.
        api.verify_mode = ssl.CERT_OPTIONAL
    peer = server_ssl_context(cert, key, ca, verify_client=tls.verify_client,
                              min_tls_version=minimum)
    client = client_ssl_context(ca, cert_file=cert, key_file=key, min_tls_version=minimum)
    return api, peer, client


# -- the history store -----------------------------------------------------------------
def _store_digest(cluster: str) -> Callable[[RevisionEntry], str]:
    def digest_of(entry: RevisionEntry) -> str:
        return entry_digest(digest, cluster, entry.revision, entry.parent_digest, entry.doc_hash,
                            entry.request_id, entry.proposer, entry.initiator)

    return digest_of


def open_store(base: ButterflyConfig, cluster: str) -> HistoryStore:
    return HistoryStore.open(base.data_dir, digest_fn=_store_digest(cluster),
                             genesis_parent=GENESIS_PARENT)


def stored_revisions(store: HistoryStore) -> Callable[[int, int], list[Decided]]:
    """The replica's history source: committed revisions read back from the store."""

    def read(first: int, count: int) -> list[Decided]:
        return [to_decided(e) for e in itertools.islice(store.iter_revisions(first), count)]

    return read


def committed_verifier(base: ButterflyConfig, store: HistoryStore, signer: Signer,
                       base_dir: str | None, fallback: Verifier) -> Verifier:
    """A verifier for the membership the store's revision 0 commits to, not the file's.

    A member key replaced in the file must not make a sound history look forged.
    When revision 0 gives no membership (missing, damaged, unfit for this node)
    the file's serves, and the chain check decides.
    """
    first = store.get_revision(0)
    if first is None:
        return fallback
    try:
        model = documents.apply_document(base, first.document, {}, 0).model
        params = consensus_params(model, signer, base_dir)
    except (ConfigError, ConfigIOError, ValueError):
        return fallback
    return Verifier(params, params.keyring(), digest, fallback.genesis)


# -- the node -------------------------------------------------------------------------
@dataclass
class NodeRuntime:
    base: ButterflyConfig
    reload: Callable[[], ButterflyConfig] | None = None
    config_paths: list[Path] = field(default_factory=list)
    env_files: list[Path] = field(default_factory=list)  # --env-file: watched for edits too
    test_hooks: bool = field(default_factory=lambda: os.environ.get("BUTTERFLY_TEST_HOOKS") == "1")

    def __post_init__(self) -> None:
        self.metrics = NodeMetrics()
        self.genesis_ok: bool = False
        self.genesis_problem: str = ""
        self.file_conflicts: dict[str, tuple[Any, Any]] = {}
        self.file_problem: str = ""
        self.exit_code = 0
        """Non-zero once the node stops because its history store failed."""
        self._stop: asyncio.Event | None = None

    # -- building ------------------------------------------------------------------
    def build(self) -> None:
        model = self.base.model
        self.node_id = str(model.node.node_id)
        self.standalone = not model.cluster.members
        base_dir = str(self.config_paths[0].parent) if self.config_paths else None
        self._base_dir = base_dir
        self.signer = load_signer(model, self.standalone, base_dir)
        self.tls = tls_contexts(model, base_dir)  # (API server, peer server, peer client)
        self.params = consensus_params(model, self.signer, base_dir)
        self.keyring = self.params.keyring()
        self.genesis = genesis_entry(self.params.cluster_name, documents.document_of(self.base))
        self.store = open_store(self.base, self.params.cluster_name)
        try:
            self._build_on_store(model)
        except BaseException:
            self.store.close()  # a node that does not start leaves its store as it found it
            raise

    def _build_on_store(self, model: ConfigModel) -> None:
        check_store_cluster(self.store, self.params.cluster_name)
        hard_state = self._load_hard_state()
        verifier = committed_verifier(
            self.base, self.store, self.signer, self._base_dir,
            Verifier(self.params, self.keyring, digest, self.genesis))
        self.genesis, history = recover_history(self.store, verifier, self.genesis, hard_state)
        self.manager = ConfigManager(base=self.base, store=self.store,
                                     on_local_change=self._local_changed)
        self.manager.metrics_hook = self._metric
        self.manager.status_provider = self.cluster_status
        if self.test_hooks:
            from butterfly_config.node import test_hooks

            test_hooks.install(self.manager)
        self._log_stale_file_values()
        self._find_file_conflicts()
        if self.file_conflicts:
            self._agree_under_committed_settings()
        try:
            self.replica = Replica(
                self.params, self.signer, self._validate, digest, history,
                hard_state=hard_state, now_ms=self._now_ms(), keyring=self.keyring,
                history_source=stored_revisions(self.store),
            )
        except ValueError as exc:
            raise HistoryCorrupt(
                f"{self.store.path}: the stored history cannot be used ({exc})",
                hint=rebuild_hint(self.store)) from exc
        self.transport = PeerTransport(
            node_id=self.node_id,
            peer_addrs={m.node_id: m.addr for m in self.params.members},
            on_receive=self._on_peer_message,
            on_heartbeat=lambda sender, body: self.liveness.on_heartbeat(sender, body),
            retry=self._retry_policy(model),
            client_ssl=self.tls[2],
            test_hooks=self.test_hooks,
        )
        self.metrics.export_peer_transport(self.transport.counters)
        self.driver = ConsensusDriver(
            replica=self.replica,
            persist=self._persist,
            send=self.transport.send,
            apply=self._apply,
            on_event=self._event,
            clock_ms=self._now_ms,
            on_error=self._driver_failed,
        )
        self.manager.attach(self.driver)
        self.manager.sync_trigger = self._sync_now
        self.manager.reputation_reset = self._reset_reputation
        self.liveness = LivenessService(
            node_id=self.node_id, cluster=self.params.cluster_name, members=self.params.members,
            signer=self.signer, algorithm=self.params.signing_algorithm,
            epoch=next_epoch(self.store), hooks=self._liveness_hooks(), quorum=self.params.quorum,
            settings=self.manager.config.model.byzantine.failure_detection)
        # committed revisions may have changed protocol timeouts since the file was written
        self._apply_live_parameters(self.manager.config.model)
        self.metrics.set_revision(self.manager.revision)
        self._export_reputations()

    def _export_reputations(self) -> None:
        """Every peer's current score as `butterfly_config_peer_reputation{peer}` from the
        start (restored scores included); ReputationChanged events keep it current, so a
        scrape never finds the family empty until some score first moves."""
        for peer in self.params.member_ids:
            if peer != self.node_id:
                self.metrics.set_reputation(peer, self.replica.reputation(peer))

    @staticmethod
    def _now_ms() -> int:
        return int(time.monotonic() * 1000)

    @staticmethod
    def _retry_policy(model: ConfigModel) -> RetryPolicy:
        retry = model.network.retry
        return RetryPolicy(retry.max_retries, retry.initial_backoff_ms, retry.max_backoff_ms,
                           retry.backoff_multiplier, retry.jitter_factor)

    def _load_hard_state(self) -> HardState | None:
        raw = self.store.load_consensus_state()
        if raw is None:
            return None
        try:
            state = decode_hard_state(raw)
        except StateCorrupt as exc:
            raise HistoryCorrupt(
                f"{self.store.path}: the stored consensus state is unreadable ({exc}); the "
                "node refuses to start rather than risk voting twice",
                hint=rebuild_hint(self.store),
            ) from exc
        return state

    def _find_file_conflicts(self) -> None:
        """Static cluster options the file sets otherwise than the committed configuration.

        They keep the node from becoming ready (see `_file_agrees`) and are listed
        as restart-required, which the hot reloader clears once the file agrees.
        """
        self.file_conflicts = static_conflicts(self.base, self.manager.config)
        if not self.file_conflicts:
            return
        self.file_problem = conflict_problem(self.file_conflicts, self.manager.revision)
        self.manager.reload_status.restart_required.update(self.file_conflicts)
        log.error("%s; not becoming ready", self.file_problem)

    def _agree_under_committed_settings(self) -> None:
        """Take the consensus settings (members, keys, f, coordinator, timeouts) from the
        committed configuration, not from a file that sets static options otherwise.

        The committed history wins, and so must the rules it is agreed under: under
        the file's, the node would follow another coordinator than the cluster's, or
        accept certificates smaller than the cluster's quorum.
        """
        try:
            params = consensus_params(self.manager.config.model, self.signer, self._base_dir)
        except (ConfigError, ValueError) as exc:  # an I/O error stays one (exit 2)
            # e.g. a file that renames this node: the committed members lack the new name
            paths = ", ".join(self.file_conflicts)
            raise ConfigError(f"this node cannot take part under the committed settings: {exc}", [
                ConfigIssue(next(iter(self.file_conflicts)), (
                    f"this node's file sets {paths} otherwise than the committed "
                    f"configuration, and under the committed settings this node cannot take "
                    f"part ({exc}); the node does not start, and its history is kept"),
                    hint="put the file's values back; a cluster keeps its static options for "
                         "as long as it keeps its history (docs/operations.md, \"A static "
                         "option differs from the committed configuration\")",
                    rule="committed-static")]) from exc
        self.params = params
        self.keyring = self.params.keyring()

    def _log_stale_file_values(self) -> None:
        if self.manager.revision == 0:
            return
        file_view = document_reading.cluster_values(documents.document_of(self.base))
        committed = document_reading.cluster_values(self.manager.head_document)
        stale = sorted(p for p, v in file_view.items() if committed.get(p) != v)
        if stale:
            log.warning("committed revision %d overrides these options of the file: %s",
                        self.manager.revision, ", ".join(stale))

    # -- callbacks from the replica / driver ---------------------------------------------
    def _validate(self, document: bytes, head_document: bytes) -> Verdict:
        reason = documents.check_cluster_document(document, head_document)
        if reason is not None:
            return Verdict.invalid(reason)
        veto = self.manager.veto(document)
        return Verdict.veto(veto) if veto else Verdict.accept()

    def _driver_failed(self, exc: Exception) -> None:
        """The driver could not carry out a batch and has halted: stop, exit code 1, so a
        supervisor restarts the node (it then catches up from its store and peers)."""
        if isinstance(exc, HistoryError):
            self._store_failed(exc)
            return
        if self.exit_code:
            return
        self.exit_code = 1
        log.error("carrying out a decided batch failed; stopping the node (exit code 1)",
                  exc_info=exc)
        if self._stop is not None:
            self._stop.set()

    def _on_peer_message(self, data: bytes) -> None:
        if self.exit_code:
            return  # stopping: the store failed, and nothing may be voted without it
        try:
            self.driver.receive(data)
        except HistoryError as exc:  # a batch's (told to _driver_failed already) or a read's
            self._store_failed(exc)
        except Exception:
            if not self.driver.halted:
                raise  # the transport logs it
            # else reported through the driver's on_error, which stops the node

    def _store_failed(self, exc: HistoryError) -> None:
        """Stop the node, exit code 1: without a durable history it must not vote or apply.

        Its peers carry on without it (it counts as one crashed member); a supervisor
        restarts it, and on start it catches up from its store and its peers.
        """
        if self.exit_code:
            return
        self.exit_code = 1
        log.error("the history store failed; stopping the node (exit code 1): %s", exc.render())
        if self._stop is not None:
            self._stop.set()

    def _persist(self, committed: tuple[Decided, ...], hard_state: HardState | None,
                 own: tuple[ProposalCommitted, ...]) -> None:
        """Revisions, the hard state and the audit records of this node's own commits
        (`own`), durable before any message of the batch but its FINALIZEs is sent.

        A failure here halts the driver, which sends nothing more of the batch and tells
        `_driver_failed` (the node stops)."""
        state = encode_hard_state(hard_state) if hard_state is not None else None
        head = self.store.head() if committed else None  # a vote alone needs no read
        fresh = [d for d in committed if head is None or d.entry.revision > head[0]]
        previous = self.manager.head_document
        mine = {event.revision for event in own}
        carried = False
        for index, decided in enumerate(fresh):
            carry = state if index == len(fresh) - 1 else None
            audit = (self.manager.commit_audit(decided, previous)
                     if decided.entry.revision in mine else None)
            self.store.append_revision(self.manager.revision_entry(decided, previous),
                                       consensus_state=carry, audit=audit)
            if audit is not None:
                self.manager.commit_recorded(audit)
            previous = decided.entry.document
            carried = carry is not None
        if state is not None and not carried:
            self.store.save_consensus_state(state)

    def _apply(self, decided: Decided) -> None:
        old = self.manager.config
        self.manager.apply_committed(decided)
        new = self.manager.config
        # most commits leave the protocol's inputs alone: rebuilding the parameters
        # (member keys included) would be spent on the path of every reply
        if new is not old and _protocol_inputs(new.model) != _protocol_inputs(old.model):
            self._apply_live_parameters(new.model)

    def _apply_live_parameters(self, model: ConfigModel) -> None:
        self.liveness.configure(model.byzantine.failure_detection)
        try:
            params = consensus_params(model, self.signer, self._base_dir)
        except (ConfigError, ConfigIOError, ValueError) as exc:
            log.error("could not apply the new protocol parameters: %s", exc)
            return
        if params != self.params and self.params.same_cluster(params):
            self.replica.set_params(params)
            self.params = params
            log.info("protocol parameters updated live")

    def _local_changed(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        self.liveness.configure(new.model.byzantine.failure_detection)
        if old.model.observability.logging != new.model.observability.logging:
            apply_logging(log_settings(new))
            log.info("logging settings changed (level %s)", new.model.observability.logging.level)

    def _event(self, event: Event) -> None:
        if isinstance(event, ViewChanged):
            log.info("view %d: coordinator %s", event.view, event.coordinator)
            self.metrics.set_view(event.view)
            self.manager.audit("consensus", "view-change", "established",
                               {"view": event.view, "coordinator": event.coordinator})
        elif isinstance(event, ViewChangeFailed):
            log.error("no view established after %d view changes (view %d); still trying",
                      event.attempts, event.view)
        elif isinstance(event, EvidenceFound):
            # a veto costs its member a little reputation, but honest members veto too
            log.log(logging.WARNING if event.critical else logging.INFO,
                    "evidence against %s: %s (%s)", event.member, event.kind, event.detail)
            self.manager.audit("consensus", "evidence", event.kind,
                               {"member": event.member, "detail": event.detail,
                                "critical": event.critical})
        elif isinstance(event, ReputationChanged):
            self.metrics.set_reputation(event.member, event.score)
            self.store.save_reputation({event.member: event.score})
            if event.state == "isolated":
                log.warning("member %s isolated (reputation %.1f)", event.member, event.score)
                self.manager.audit("consensus", "isolation", "isolated",
                                   {"member": event.member, "score": event.score})
        elif isinstance(event, ProposalAborted) and not event.final:
            log.warning("update %s vetoed by %s (%s), but a veto by fewer than f = %d "
                        "members does not end an update on the fast path: it is re-proposed "
                        "and may commit over the veto (docs/consensus.md, \"Aborts\")",
                        event.request_id, ", ".join(event.rejected_by), event.reason,
                        self.params.f)
        elif isinstance(event, CaughtUp):
            log.info("caught up revisions %d..%d from %s", event.from_revision,
                     event.to_revision, event.peer)

    def _metric(self, name: str, value: Any) -> None:
        if name == "update":
            self.metrics.inc_update(str(value))
        elif name == "validation_failure":
            self.metrics.inc_validation_failure()
        elif name == "revision":
            self.metrics.set_revision(int(value))
        elif name == "rollback":
            self.metrics.inc_rollback()
        elif name == "phase":
            phase, seconds = value
            self.metrics.observe_phase(str(phase), float(seconds))

    def _sync_now(self) -> None:
        self._change_replica(self.replica.request_sync)

    def _change_replica(self, change: Callable[[], None]) -> bool:
        """Run `change` on the replica once any write of the driver's is done, then carry
        out its work; False when the driver cannot (it halted, and the node is stopping:
        see `_driver_failed`), which the heartbeat and timer callers take quietly."""
        try:
            self.driver.settle()
            if self.driver.halted:
                return False
            change()
            self.driver.flush()
        except Exception:
            if not self.driver.halted:
                raise
            return False
        return True

    def _reset_reputation(self, member: str) -> tuple[Standing, Standing] | None:
        """Reset this replica's score of `member`; None if it is not a member.

        The flush persists the new score with the hard state and runs the
        ReputationChanged event (metrics, stored scores) before the API answers.
        """
        if member not in self.params.member_ids:
            return None
        before: list[Standing] = []

        def reset() -> None:
            before.append((self.replica.reputation(member), self.replica.member_state(member)))
            self.replica.reset_reputation(member)

        if self.exit_code or not self._change_replica(reset):
            raise UpdateRefused(503, _STOPPING)  # the failure was reported when it happened
        return before[0], (self.replica.reputation(member), self.replica.member_state(member))

    # -- heartbeats and peer views ----------------------------------------------------
    def _liveness_hooks(self) -> LivenessHooks:
        return LivenessHooks(
            head=lambda: (self.replica.head_revision, self.replica.head.entry.doc_hash,
                          self.replica.view),
            committed_hash=self._committed_hash,
            coordinator=lambda: self.replica.coordinator,
            can_suspect=lambda: (not self.standalone and self.genesis_ok
                                 and self.replica.established),
            suspect_coordinator=self._suspect_coordinator,
            catch_up=self._sync_now,
            broadcast=lambda payload: self.transport.broadcast(payload, path=HEARTBEAT_PATH),
            audit=lambda action, outcome, detail: self.manager.audit(
                "liveness", action, outcome, detail),
            metrics=self.metrics,
            mark_unresponsive=self._mark_unresponsive,
            restart_required=self.manager.restart_required_paths,
        )

    def _mark_unresponsive(self, members: frozenset[str]) -> None:
        self._change_replica(lambda: self.replica.set_unresponsive(members))

    def _committed_hash(self, revision: int) -> str | None:
        head = self.replica.head
        if revision == head.entry.revision:
            return head.entry.doc_hash
        entry = self.store.get_revision(revision) if 0 <= revision < head.entry.revision else None
        return entry.doc_hash if entry is not None else None

    def _suspect_coordinator(self) -> None:
        self._change_replica(self.replica.suspect_coordinator)

    def cluster_status(self) -> dict[str, Any]:
        nodes: list[dict[str, Any]] = []
        model = self.manager.config.model
        api_of = {m.node_id: str(m.api_addr) for m in model.cluster.members}
        for member in self.params.members:
            if member.node_id == self.node_id:
                live: dict[str, Any] = {
                    "revision": self.manager.revision, "cluster_hash": self.manager.cluster_hash,
                    "phi": 0.0, "detector": "alive", "view": self.replica.view,
                    "divergence": None,
                    "restart_required": self.manager.restart_required_paths()}
                ready, why = self.manager.is_ready()
                state = "ready" if ready else "unreachable"
                live["not_ready"] = "" if ready else why
            else:
                live = self.liveness.peer_status(member.node_id)
                state = {"alive": "ready", "suspected": "suspected", "failed": "failed"}.get(
                    live["detector"], "unreachable") if live.pop("heard") else "unreachable"
            member_state = self.replica.member_state(member.node_id)
            if member_state == "isolated":
                state = "isolated"
            nodes.append({
                "node_id": member.node_id,
                "addr": member.addr,
                "api_addr": api_of.get(member.node_id, str(model.network.api_addr)
                                       if member.node_id == self.node_id else ""),
                "state": state,
                **live,
                "reputation": self.replica.reputation(member.node_id),
                "reputation_state": member_state,
                "isolated": member_state == "isolated",
                "reload_error": self.manager.reload_status.last_error
                if member.node_id == self.node_id else "",
            })
        return {
            "node_id": self.node_id,
            "view": self.replica.view,
            "coordinator": self.replica.coordinator,
            "revision": self.manager.revision,
            "cluster_hash": self.manager.cluster_hash,
            "quorum": self.params.quorum,
            "f": self.params.f,
            "standalone": self.standalone,
            "established": self.replica.established,
            "failure_detection": self.liveness.status(),
            "peer_transport": self.transport.status(),
            "protocol": protocol_status(self.replica.params),
            "divergence": self.liveness.evidence(),
            "nodes": nodes,
        }

    # -- genesis agreement -------------------------------------------------------------
    async def _genesis_endpoint(self, _request: Request) -> Response:
        return JSONResponse({"node_id": self.node_id, "digest": self.genesis.digest,
                             "document": orjson.loads(self.genesis.document)})

    async def _file_agrees(self, stop: asyncio.Event) -> bool:
        """Wait while the file's static cluster options differ from the committed ones.

        The node stays a member meanwhile (it keeps and catches up the committed
        history) but is not ready; the hot reloader drops the options from
        restart-required once the file agrees again. False if stopped first.
        """
        if not self.file_conflicts:
            return True
        self.manager.ready = (False, self.file_problem)
        conflicts = set(self.file_conflicts)
        while conflicts & set(self.manager.reload_status.restart_required):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            if stop.is_set():
                return False
        log.info("the file's static options agree with the committed configuration again")
        self.file_conflicts, self.file_problem = {}, ""
        self.manager.ready = (False, "starting")
        return True

    async def _check_genesis(self, stop: asyncio.Event) -> None:
        """Become ready once a quorum (this node included) boots from the same revision 0,
        and this node's file agrees with the committed static options."""
        if not await self._file_agrees(stop):
            return
        if self.standalone:
            self.genesis_ok = True
            self.manager.ready = (True, "standalone")
            return
        import httpx

        client_ssl = self.tls[2]
        scheme = "https" if client_ssl is not None else "http"
        verify: ssl.SSLContext | bool = client_ssl if client_ssl is not None else False
        agree: set[str] = {self.node_id}
        differ: dict[str, list[str]] = {}
        mine = document_reading.cluster_values(self.genesis.document)
        async with httpx.AsyncClient(timeout=2.0, verify=verify) as client:
            while not stop.is_set():
                for member in self.params.members:
                    if member.node_id in agree or member.node_id in differ:
                        continue
                    try:
                        response = await client.get(f"{scheme}://{member.addr}{GENESIS_PATH}")
                        data = response.json()
                    except (httpx.HTTPError, ValueError):
                        continue
                    if data.get("digest") == self.genesis.digest:
                        agree.add(member.node_id)
                    else:
                        theirs = document_reading.cluster_values(
                            orjson.dumps(data.get("document", {})))
                        differ[member.node_id] = sorted(
                            p for p in mine if theirs.get(p) != mine[p])
                if len(agree) >= self.params.quorum:
                    self.genesis_ok = True
                    self.manager.ready = (True, "ready")
                    log.info("revision 0 agreed with %s", ", ".join(sorted(agree)))
                    return
                if len(differ) > self.params.n - self.params.quorum:
                    options = sorted({p for paths in differ.values() for p in paths})
                    self.genesis_problem = (
                        "this node's revision-0 configuration differs from its peers' in: "
                        + ", ".join(options))
                    self.manager.ready = (False, self.genesis_problem)
                    log.error("%s; not becoming ready", self.genesis_problem)
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)

    # -- running ------------------------------------------------------------------------
    async def _tick_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.driver.tick()
            except Exception as exc:
                if not self.driver.halted:  # else reported through the driver's on_error
                    self._driver_failed(exc)
                stop.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_INTERVAL_S)

    async def run(self, stop: asyncio.Event) -> int:
        from butterfly_config.node.api.app import create_app
        from butterfly_config.node.api.live_settings import ApiSettingsFollower
        from butterfly_config.node.api.settings import api_settings_from_config

        self._stop = stop
        model = self.base.model
        base_dir = self._base_dir
        # the committed configuration: earlier revisions may have changed access settings
        settings = api_settings_from_config(self.manager.config.model, base_dir=base_dir)
        api_ssl, peer_ssl, _ = self.tls
        api_app = create_app(self.manager, settings, self.metrics)
        self.manager.subscribers.add(
            ApiSettingsFollower(api_app.state.gate, base_dir, self.manager.config))
        peer_app = self.transport.asgi_app([Route(GENESIS_PATH, self._genesis_endpoint)])
        peer_sock = bind_socket(str(model.network.listen_addr), "peer endpoint")
        api_sock = bind_socket(str(model.network.api_addr), "API")
        peer_server = make_server(peer_app, str(model.network.listen_addr), ssl_context=peer_ssl,
                                  stream_max_bytes=self.transport.max_frame_bytes)
        api_server = make_server(api_app, str(model.network.api_addr), ssl_context=api_ssl,
                                 client_certs=model.security.api.auth_method == "mtls")
        await self.transport.start()
        tasks = [
            asyncio.create_task(serve_on(peer_server, peer_sock), name="peer-server"),
            asyncio.create_task(serve_on(api_server, api_sock), name="api-server"),
        ]
        try:
            await wait_started(peer_server, tasks[0], 10.0)
            await wait_started(api_server, tasks[1], 10.0)
            tasks += [
                asyncio.create_task(self._tick_loop(stop), name="tick"),
                asyncio.create_task(self.liveness.run(stop), name="liveness"),
                asyncio.create_task(self._check_genesis(stop), name="genesis"),
            ]
            if self.reload is not None and self.config_paths:
                from butterfly_config.node.reload import HotReloader

                reloader = HotReloader(self.manager, self.reload, self.config_paths, self.base,
                                       env_files=self.env_files)
                tasks.append(asyncio.create_task(reloader.run(stop), name="hot-reload"))
            log.info("node %s serving: api %s, peers %s, revision %d", self.node_id,
                     model.network.api_addr, model.network.listen_addr, self.manager.revision)
            await stop.wait()
        finally:
            log.info("node %s stopping", self.node_id)
            peer_server.should_exit = True
            api_server.should_exit = True
            stop.set()
            await asyncio.wait(tasks, timeout=5.0)
            for task in tasks:
                task.cancel()
            await self.transport.stop()
            self.manager.close()
            self.store.close()
        return self.exit_code
