"""Divergence repair decisions from the (revision, cluster_hash) peers announce. Pure.

Every heartbeat names the sender's committed revision and its cluster_hash.
Two things can follow, and this module decides which:
- The peer is ahead: this node missed revisions (restart, partition, lost
  FINALIZE). It asks for a catch-up (verified against the commit
  certificates by the consensus core), but only once the peer has been ahead
  for `grace_ms`, because during a normal commit some members apply a few
  milliseconds before others, and at most every `min_gap_ms`.
- The peer names a revision this node has committed, with another hash. A
  committed revision has exactly one content, so one of the two nodes is
  faulty; the peer's signed heartbeat is kept as evidence (once per peer and
  revision).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_EVIDENCE = 100


@dataclass(frozen=True, slots=True)
class Divergence:
    """A peer's signed claim that a revision committed here has another hash."""

    peer: str
    revision: int
    theirs: str
    ours: str
    seen_at: float

    def as_dict(self) -> dict[str, object]:
        return {"peer": self.peer, "revision": self.revision, "peer_cluster_hash": self.theirs,
                "committed_cluster_hash": self.ours, "seen_at": self.seen_at}


@dataclass(frozen=True, slots=True)
class Decision:
    catch_up: bool = False
    evidence: Divergence | None = None


class DivergenceMonitor:
    def __init__(self, grace_ms: float = 300.0, min_gap_ms: float = 1000.0) -> None:
        self.grace_ms = grace_ms
        self.min_gap_ms = min_gap_ms
        self._ahead_since: float | None = None
        self._ahead_target = -1
        self._last_request: float | None = None
        self._checked: dict[str, tuple[int, str]] = {}
        self._recorded: set[tuple[str, int]] = set()
        self.evidence: deque[Divergence] = deque(maxlen=MAX_EVIDENCE)
        self.catch_ups = 0

    def observe(
        self,
        peer: str,
        revision: int,
        cluster_hash: str,
        *,
        now_ms: float,
        wall_time: float,
        head_revision: int,
        committed_hash: Callable[[int], str | None],
    ) -> Decision:
        """What to do about `peer` announcing (revision, cluster_hash)."""
        if head_revision >= self._ahead_target:
            self._ahead_since = None
        if revision > head_revision:
            return Decision(catch_up=self._behind(revision, now_ms))
        if self._checked.get(peer) == (revision, cluster_hash):
            return Decision()
        self._checked[peer] = (revision, cluster_hash)
        ours = committed_hash(revision)
        if ours is None or ours == cluster_hash or (peer, revision) in self._recorded:
            return Decision()
        self._recorded.add((peer, revision))
        found = Divergence(peer, revision, cluster_hash, ours, wall_time)
        self.evidence.append(found)
        return Decision(evidence=found)

    def _behind(self, revision: int, now_ms: float) -> bool:
        self._ahead_target = max(self._ahead_target, revision)
        if self._ahead_since is None:
            self._ahead_since = now_ms
        if now_ms - self._ahead_since < self.grace_ms:
            return False
        if self._last_request is not None and now_ms - self._last_request < self.min_gap_ms:
            return False
        self._last_request = now_ms
        self.catch_ups += 1
        return True

    def divergence_of(self, peer: str) -> Divergence | None:
        """The latest evidence against `peer`, if any."""
        for found in reversed(self.evidence):
            if found.peer == peer:
                return found
        return None
