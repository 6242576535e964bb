"""The simulated network: loss, delay, duplication, reordering and partitions.

Every decision (drop, duplicate, delay) is drawn from the run's one
`random.Random`, in the order messages are sent, so a seed fixes the whole
delivery schedule. Reordering needs no extra rule: independent random delays
reorder messages on their own. A partition cuts both new sends and messages
already in flight (checked again at delivery time), like a real link failure.
`trace_hash` digests every decision so two runs can be compared cheaply.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """How unkind the network (and the fault schedule riding on it) is."""

    name: str
    drop_rate: float
    duplicate_rate: float
    min_delay_ms: int
    max_delay_ms: int
    slow_rate: float  # chance a message takes `slow_factor` times longer (heavy reordering)
    slow_factor: int
    partitions: bool
    crashes: bool


CALM = NetworkProfile("calm", 0.0, 0.0, 1, 5, 0.0, 1, partitions=False, crashes=False)
HOSTILE = NetworkProfile("hostile", 0.15, 0.08, 1, 120, 0.05, 8, partitions=True, crashes=True)
PROFILES: dict[str, NetworkProfile] = {p.name: p for p in (CALM, HOSTILE)}


@dataclass(frozen=True, slots=True)
class Envelope(Generic[M]):
    """One copy of a message on the wire."""

    msg_id: int
    src: str
    dst: str
    payload: M
    size: int
    sent_ms: int


@dataclass(slots=True)
class NetworkStats:
    sent: int = 0
    bytes_sent: int = 0
    dropped: int = 0
    duplicated: int = 0
    cut: int = 0
    delivered: int = 0


class Network(Generic[M]):
    """Decides the fate of every message; the caller owns the event queue."""

    def __init__(self, rng: random.Random, profile: NetworkProfile) -> None:
        self._rng = rng
        self.profile = profile
        self._group: dict[str, int] = {}
        self._next_id = 0
        self._trace = hashlib.blake2b(digest_size=16)
        self.stats = NetworkStats()
        self.lossless = False

    # -- topology ------------------------------------------------------------
    def partition(self, groups: Sequence[Collection[str]]) -> None:
        """Split members into groups; members named in no group are isolated alone."""
        self._group = {}
        for index, group in enumerate(groups):
            for node in group:
                self._group[node] = index
        self._record(f"partition {sorted(sorted(g) for g in groups)}")

    def heal(self, *, lossless: bool = False) -> None:
        """Join every group again; `lossless` also stops drops (an eventually-delivering net)."""
        self._group = {}
        self.lossless = lossless
        self._record(f"heal lossless={lossless}")

    @property
    def partitioned(self) -> bool:
        return bool(self._group)

    def connected(self, a: str, b: str) -> bool:
        if a == b or not self._group:
            return True
        ga, gb = self._group.get(a), self._group.get(b)
        return ga is not None and ga == gb

    # -- traffic -------------------------------------------------------------
    def send(
        self, src: str, dst: str, payload: M, size: int, now_ms: int
    ) -> list[tuple[int, Envelope[M]]]:
        """Return the (delivery time, copy) pairs of one send: none, one or two copies."""
        self._next_id += 1
        env = Envelope(self._next_id, src, dst, payload, size, now_ms)
        self.stats.sent += 1
        self.stats.bytes_sent += size
        if not self.connected(src, dst):
            self.stats.cut += 1
            self._record(f"cut {env.msg_id} {src}>{dst}")
            return []
        if not self.lossless and self._rng.random() < self.profile.drop_rate:
            self.stats.dropped += 1
            self._record(f"drop {env.msg_id} {src}>{dst}")
            return []
        copies = 1
        if not self.lossless and self._rng.random() < self.profile.duplicate_rate:
            copies = 2
            self.stats.duplicated += 1
        out = []
        for _ in range(copies):
            delay = self._delay()
            out.append((now_ms + delay, env))
            self._record(f"send {env.msg_id} {src}>{dst} {size}B +{delay}")
        return out

    def admit(self, env: Envelope[M]) -> bool:
        """At delivery time: a message crossing a partition made since it was sent is lost."""
        if self.connected(env.src, env.dst):
            self.stats.delivered += 1
            self._record(f"deliver {env.msg_id}")
            return True
        self.stats.cut += 1
        self._record(f"cut-in-flight {env.msg_id}")
        return False

    def _delay(self) -> int:
        p = self.profile
        delay = self._rng.randint(p.min_delay_ms, p.max_delay_ms)
        if not self.lossless and p.slow_rate and self._rng.random() < p.slow_rate:
            delay *= p.slow_factor
        return delay

    # -- determinism evidence -----------------------------------------------
    def _record(self, line: str) -> None:
        self._trace.update(line.encode())
        self._trace.update(b"\n")

    def record(self, line: str) -> None:
        """Let the simulation add its own decisions (crashes, proposals) to the trace."""
        self._record(line)

    @property
    def trace_hash(self) -> str:
        return self._trace.hexdigest()


def random_partition(rng: random.Random, members: Iterable[str]) -> list[list[str]]:
    """Split members into two or three non-empty groups, chosen by the run's rng."""
    nodes = list(members)
    rng.shuffle(nodes)
    parts = 2 if len(nodes) < 5 or rng.random() < 0.7 else 3
    cuts = sorted(rng.sample(range(1, len(nodes)), parts - 1))
    groups, start = [], 0
    for cut in [*cuts, len(nodes)]:
        groups.append(sorted(nodes[start:cut]))
        start = cut
    return groups
