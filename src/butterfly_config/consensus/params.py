"""Plain parameters of the protocol, built by the node from its configuration.

No schema import: the node maps `cluster.members`, `byzantine.*`,
`network.coordinator_addr` and `security.signing.algorithm` into these frozen
records. Timeouts and reputation thresholds may change at runtime
(`Replica.set_params`); membership, f, cluster name and algorithm may not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from butterfly_config.consensus.crypto import KeyRing

Protocol = Literal["standard_pbft", "optimistic_pbft"]


@dataclass(frozen=True, slots=True)
class Member:
    """One cluster member: its id, peer address and raw public key bytes."""

    node_id: str
    addr: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class ReputationParams:
    """byzantine.reputation: scores start at initial_score, drop by decay_rate per
    failed operation and critical_failure_penalty per proven misbehaviour, and
    recover by recovery_rate per correct vote."""

    enabled: bool = True
    initial_score: float = 100.0
    suspect_threshold: float = 50.0
    isolate_threshold: float = 10.0
    recovery_rate: float = 1.0
    decay_rate: float = 5.0
    critical_failure_penalty: float = 25.0


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    """Everything the replica needs to know about the cluster and its timing."""

    cluster_name: str
    members: tuple[Member, ...]
    f: int
    coordinator_index: int = 0
    """Index of the member whose addr is network.coordinator_addr (0 if none)."""
    protocol: Protocol = "optimistic_pbft"
    signing_algorithm: Literal["ed25519", "ecdsa_p256"] = "ed25519"
    pre_prepare_timeout_ms: int = 1000
    prepare_timeout_ms: int = 2000
    commit_timeout_ms: int = 3000
    timeout_multiplier: float = 1.0
    view_change_timeout_ms: int = 10000
    backoff_multiplier: float = 1.5
    max_view_change_attempts: int = 5
    status_interval_ms: int = 1000
    """How often a replica announces its head (STATUS) to detect lag and divergence."""
    reputation: ReputationParams = field(default_factory=ReputationParams)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Why these parameters cannot run the protocol (empty when they can)."""
        out: list[str] = []
        n = len(self.members)
        if n == 0:
            out.append("the cluster has no members")
        ids = [m.node_id for m in self.members]
        if len(set(ids)) != len(ids):
            out.append("member node ids are not unique")
        if self.f < 0:
            out.append("f must be >= 0")
        elif n and n < 3 * self.f + 1:
            out.append(
                f"{n} members cannot tolerate f={self.f} Byzantine faults: "
                f"n >= 3f+1 = {3 * self.f + 1} is needed"
            )
        if n and not 0 <= self.coordinator_index < n:
            out.append("coordinator_index is not a member index")
        for name in (
            "pre_prepare_timeout_ms",
            "prepare_timeout_ms",
            "commit_timeout_ms",
            "view_change_timeout_ms",
            "status_interval_ms",
        ):
            if getattr(self, name) <= 0:
                out.append(f"{name} must be > 0")
        if self.timeout_multiplier <= 0:
            out.append("timeout_multiplier must be > 0")
        if self.backoff_multiplier < 1:
            out.append("backoff_multiplier must be >= 1")
        if self.max_view_change_attempts < 1:
            out.append("max_view_change_attempts must be >= 1")
        return out

    @property
    def n(self) -> int:
        return len(self.members)

    @property
    def quorum(self) -> int:
        """q = ceil((n + f + 1) / 2): any two quorums share at least f+1 members."""
        return math.ceil((self.n + self.f + 1) / 2)

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.node_id for m in self.members)

    def coordinator_of(self, view: int) -> str:
        return self.members[(self.coordinator_index + view) % self.n].node_id

    def scaled(self, base_ms: int) -> int:
        """A base timeout scaled by timeout_multiplier (at least 1 ms)."""
        return max(1, int(base_ms * self.timeout_multiplier))

    def keyring(self) -> KeyRing:
        """A new key ring of the members' public keys (with its own cache)."""
        return KeyRing({m.node_id: m.public_key for m in self.members}, self.signing_algorithm)

    def same_cluster(self, other: ConsensusParams) -> bool:
        """True when `other` differs only in what may change at runtime."""
        return (
            self.cluster_name == other.cluster_name
            and self.members == other.members
            and self.f == other.f
            and self.coordinator_index == other.coordinator_index
            and self.signing_algorithm == other.signing_algorithm
        )
