"""Heartbeats, failure detection and divergence repair of one running node.

`LivenessService` sends this node's signed heartbeats at the (adaptive) pace,
verifies the peers' ones, feeds their arrival times to the phi-accrual
detector and their (revision, cluster_hash) to the divergence monitor, and
acts on what those find:
- the current coordinator's phi reaches `phi_failed_threshold` while this
  node is ready, in an established view, not standalone and still hears a
  quorum without the coordinator: start a view change now
  (`Replica.suspect_coordinator`) instead of waiting for
  `view_change.timeout_ms`; logged and audited once per view;
- a peer is ahead: ask for a catch-up (rate limited);
- a peer announces another hash for a revision committed here: evidence
  (log, audit, metric, cluster status).

Everything runs on the node's event loop; the methods that decide (`receive`,
`check`) take the time from the injected clocks, so tests drive them directly.
If this node's own loop stalls (a paused process, a blocked disk), the silence
it measured was its own: the detector forgives it instead of suspecting
everyone at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from butterfly_config.consensus.crypto import KeyRing, Signer
from butterfly_config.consensus.params import Member
from butterfly_config.node.divergence import DivergenceMonitor
from butterfly_config.node.failure_detector import DetectorSettings, PhiAccrualDetector
from butterfly_config.node.heartbeats import (
    Heartbeat,
    HeartbeatPace,
    HeartbeatVerifier,
    PaceSettings,
    SequenceNumbers,
    encode_heartbeat,
)
from butterfly_config.schema.byzantine import FailureDetectionSection

log = logging.getLogger("butterfly.liveness")

EPOCH_KEY = "heartbeat_epoch"
CHECK_INTERVAL_MS = 50
STALL_MS = 300
"""A loop that wakes this much later than planned has stalled: forgive the silence."""


class MetaStore(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


def next_epoch(store: MetaStore) -> int:
    """Raise and persist the heartbeat epoch, so sequence numbers grow across restarts."""
    raw = store.get_meta(EPOCH_KEY)
    epoch = (int(raw) if raw and raw.isascii() and raw.isdigit() else 0) + 1
    store.set_meta(EPOCH_KEY, str(epoch))
    return epoch


def detector_settings(fd: FailureDetectionSection) -> DetectorSettings:
    return DetectorSettings(
        suspect_threshold=fd.phi_suspect_threshold,
        failed_threshold=fd.phi_failed_threshold,
        max_history=fd.max_heartbeat_history,
    )


def pace_settings(fd: FailureDetectionSection) -> PaceSettings:
    return PaceSettings(
        interval_ms=fd.heartbeat_interval_ms,
        adaptive=fd.adaptive_heartbeat,
        min_interval_ms=fd.min_heartbeat_interval_ms,
        max_interval_ms=fd.max_heartbeat_interval_ms,
    )


@dataclass
class LivenessHooks:
    """What the service needs from the node (the runtime wires these to its parts)."""

    head: Callable[[], tuple[int, str, int]]
    """(committed revision, its cluster_hash, current view)."""
    committed_hash: Callable[[int], str | None]
    coordinator: Callable[[], str]
    can_suspect: Callable[[], bool]
    """Ready, in an established view and not standalone."""
    suspect_coordinator: Callable[[], None]
    catch_up: Callable[[], None]
    broadcast: Callable[[bytes], None]
    audit: Callable[[str, str, dict[str, Any]], None]
    metrics: Any = None
    restart_required: Callable[[], Sequence[str]] = tuple
    """The option paths this node's edited files change that need a restart."""
    mark_unresponsive: Callable[[frozenset[str]], None] | None = None
    """Told the peers currently held failed, so a coordinator stops waiting for them."""


@dataclass
class PeerInfo:
    """What this node last heard from a peer."""

    revision: int = -1
    cluster_hash: str = ""
    view: int = -1
    interval_ms: int = 0
    restart_required: tuple[str, ...] = ()
    last_seen: float = 0.0
    heartbeats: int = 0


@dataclass
class LivenessService:
    node_id: str
    cluster: str
    members: Sequence[Member]
    signer: Signer
    algorithm: str
    epoch: int
    hooks: LivenessHooks
    quorum: int = 1
    settings: FailureDetectionSection = field(default_factory=FailureDetectionSection)
    clock_ms: Callable[[], float] = field(default=lambda: time.monotonic() * 1000.0)
    wall: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        # A key ring of its own: heartbeats are all distinct, and caching them would
        # evict the consensus signatures the protocol's ring caches on purpose.
        keyring = KeyRing({m.node_id: m.public_key for m in self.members},
                          self.algorithm,  # type: ignore[arg-type]
                          cache_size=64)
        ids = frozenset(m.node_id for m in self.members)
        self.verifier = HeartbeatVerifier(self.cluster, self.node_id, ids, keyring)
        self.detector = PhiAccrualDetector(detector_settings(self.settings))
        self.pace = HeartbeatPace(pace_settings(self.settings))
        self.divergence = DivergenceMonitor()
        self.sequence = SequenceNumbers(self.epoch)
        self.peers: dict[str, PeerInfo] = {}
        self.watching = False
        self._suspected_view = -1
        self._cut_off_view = -1
        self._cut_off = False
        self._last_check_ms: float | None = None
        self.refused = 0

    @property
    def peer_ids(self) -> list[str]:
        return [m.node_id for m in self.members if m.node_id != self.node_id]

    # -- settings -------------------------------------------------------------------
    def configure(self, settings: FailureDetectionSection) -> None:
        """Apply changed failure-detection options live (committed or local)."""
        if settings == self.settings:
            return
        try:
            detector = detector_settings(settings)
        except ValueError as exc:
            log.error("failure detection settings not applied: %s", exc)
            return
        self.settings = settings
        self.detector.configure(detector)
        self.pace.configure(pace_settings(settings))
        log.info("failure detection updated live: heartbeat %d ms, phi suspect %.1f, "
                 "failed %.1f, history %d", self.pace.interval_ms, detector.suspect_threshold,
                 detector.failed_threshold, detector.max_history)

    # -- heartbeats out -------------------------------------------------------------
    def heartbeat_bytes(self) -> bytes:
        revision, cluster_hash, view = self.hooks.head()
        heartbeat = Heartbeat(self.cluster, self.node_id, self.sequence.next(), revision,
                              cluster_hash, view, self.pace.interval_ms,
                              tuple(self.hooks.restart_required()))
        return encode_heartbeat(heartbeat, self.signer)

    def send(self) -> None:
        if self.peer_ids:
            self.hooks.broadcast(self.heartbeat_bytes())

    # -- heartbeats in --------------------------------------------------------------
    def on_heartbeat(self, claimed_sender: str, body: bytes) -> None:
        """The transport's heartbeat handler (a ValueError becomes a 400 answer)."""
        self.receive(claimed_sender, body)

    def receive(self, claimed_sender: str, body: bytes) -> Heartbeat:
        """Verify and take in a peer's heartbeat; HeartbeatRefused changes nothing."""
        try:
            heartbeat = self.verifier.accept(body, claimed_sender)
        except ValueError:
            self.refused += 1
            raise
        now = self.clock_ms()
        sender = heartbeat.sender
        self.detector.heartbeat(sender, now, heartbeat.interval_ms)
        info = self.peers.setdefault(sender, PeerInfo())
        info.revision, info.cluster_hash = heartbeat.revision, heartbeat.cluster_hash
        info.view, info.interval_ms = heartbeat.view, heartbeat.interval_ms
        info.restart_required = heartbeat.restart_required
        info.last_seen = self.wall()
        info.heartbeats += 1
        head_revision = self.hooks.head()[0]
        decision = self.divergence.observe(
            sender, heartbeat.revision, heartbeat.cluster_hash, now_ms=now,
            wall_time=info.last_seen, head_revision=head_revision,
            committed_hash=self.hooks.committed_hash)
        if decision.catch_up:
            log.info("%s is at revision %d, this node at %d: catching up", sender,
                     heartbeat.revision, head_revision)
            self._metric("inc_catch_up_request")
            self.hooks.catch_up()
        if decision.evidence is not None:
            found = decision.evidence
            log.warning("divergence: %s reports cluster_hash %s for revision %d, committed here "
                        "as %s", sender, found.theirs[:16], found.revision, found.ours[:16])
            self.hooks.audit("divergence", "evidence", found.as_dict())
            self._metric("inc_divergence", sender)
        return heartbeat

    # -- judging --------------------------------------------------------------------
    def start_watching(self) -> None:
        """Judge every peer from now on, including those never heard from."""
        if self.watching:
            return
        self.watching = True
        now = self.clock_ms()
        for peer in self.peer_ids:
            self.detector.watch(peer, now, self.pace.settings.base_ms)

    def check(self) -> None:
        """One monitoring round: forgive own stalls, act on a failed coordinator."""
        now = self.clock_ms()
        last, self._last_check_ms = self._last_check_ms, now
        if last is not None and now - last > STALL_MS:
            log.warning("this node stalled for %d ms; not judging peers by that silence",
                        now - last)
            self.detector.forgive(now)
            return
        metrics = self.hooks.metrics
        if metrics is not None:
            for peer in self.peer_ids:
                metrics.set_phi(peer, self.detector.phi(peer, now))
        if self.hooks.mark_unresponsive is not None:
            self.hooks.mark_unresponsive(frozenset(
                p for p in self.peer_ids if self.detector.state(p, now) == "failed"))
        if not self.hooks.can_suspect():
            return
        self.start_watching()
        coordinator = self.hooks.coordinator()
        view = self.hooks.head()[2]
        if coordinator == self.node_id or view == self._suspected_view:
            return
        phi = self.detector.phi(coordinator, now)
        if phi < self.detector.settings.failed_threshold:
            return
        silence = self.detector.silence_ms(coordinator, now) or 0.0
        if not self._others_heard(coordinator, silence, now):
            self._cut_off = True
            if self._cut_off_view != view:
                self._cut_off_view = view
                log.warning("coordinator %s is silent, but so are most peers: this node looks "
                            "cut off, so it does not start a view change", coordinator)
            return
        if self._cut_off:
            # Just reconnected: peers' heartbeats arrive one by one, so for a moment the
            # others are heard and the coordinator not yet. Its silence belonged to the
            # cut-off; it must now be silent for a whole detection time again.
            self._cut_off = False
            self.detector.forgive(now)
            log.info("peers heard again after this node was cut off; judging the "
                     "coordinator afresh")
            return
        self._suspected_view = view
        log.warning("coordinator %s of view %d failed (phi %.1f after %d ms without a "
                    "heartbeat): starting a view change", coordinator, view, phi, silence)
        self.hooks.audit("view-change", "coordinator-failed",
                         {"coordinator": coordinator, "view": view, "phi": round(phi, 2),
                          "silence_ms": int(silence)})
        self._metric("inc_coordinator_suspicion")
        self.hooks.suspect_coordinator()

    def _others_heard(self, coordinator: str, silence: float, now: float) -> bool:
        """Does this node still hear a quorum (itself included) without the coordinator?

        A node cut off from everyone sees every peer go silent together. Its
        view change could not complete (it needs a quorum of reports) and would
        leave it alone in a later view, out of the votes, once the network
        heals. So the coordinator alone must be silent: other members count
        as heard when their silence is under half of the coordinator's.
        """
        heard = 1
        for peer in self.peer_ids:
            quiet = self.detector.silence_ms(peer, now)
            if peer != coordinator and quiet is not None and quiet < silence / 2:
                heard += 1
        return heard >= self.quorum

    def _metric(self, name: str, *args: Any) -> None:
        metrics = self.hooks.metrics
        if metrics is not None:
            getattr(metrics, name)(*args)

    # -- status ---------------------------------------------------------------------
    def peer_status(self, peer: str) -> dict[str, Any]:
        """phi, detector state and what the peer last announced."""
        now = self.clock_ms()
        info = self.peers.get(peer)
        found = self.divergence.divergence_of(peer)
        silence = self.detector.silence_ms(peer, now)
        return {
            "phi": round(self.detector.phi(peer, now), 2),
            "detector": self.detector.state(peer, now),
            "heard": info is not None,
            "revision": info.revision if info else None,
            "cluster_hash": info.cluster_hash if info else None,
            "view": info.view if info else None,
            "heartbeat_interval_ms": info.interval_ms if info else None,
            "last_heartbeat_ms_ago": int(silence) if info and silence is not None else None,
            "restart_required": list(info.restart_required) if info else [],
            "divergence": found.as_dict() if found else None,
        }

    def status(self) -> dict[str, Any]:
        detector = self.detector.settings
        return {
            "heartbeat_interval_ms": self.pace.interval_ms,
            "adaptive_heartbeat": self.pace.settings.adaptive,
            "phi_suspect_threshold": detector.suspect_threshold,
            "phi_failed_threshold": detector.failed_threshold,
            "max_heartbeat_history": detector.max_history,
            "refused_heartbeats": self.refused,
            "catch_up_requests": self.divergence.catch_ups,
        }

    def evidence(self) -> list[dict[str, object]]:
        return [found.as_dict() for found in self.divergence.evidence]

    # -- loops ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self._send_loop(stop), self._check_loop(stop))

    async def _send_loop(self, stop: asyncio.Event) -> None:
        due = self.clock_ms()
        while not stop.is_set():
            now = self.clock_ms()
            interval = self.pace.observe(max(0.0, now - due))
            try:
                self.send()
            except Exception:  # a heartbeat that could not be built must not end the loop
                log.exception("could not send a heartbeat")
            due = now + interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval / 1000.0)

    async def _check_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("failure detection round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CHECK_INTERVAL_MS / 1000.0)
