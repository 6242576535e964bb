"""A small deterministic harness: n replicas, a FIFO network, a manual clock.

It plays the node runtime's part exactly as docs/consensus.md prescribes:
persist Ready.committed and Ready.hard_state, then send Ready.messages, then
apply, then advance. Tests steer it with drop filters, crashes and ticks.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from butterfly_config.consensus.crypto import Signer, generate_signer
from butterfly_config.consensus.messages import Decided, Message, make_entry
from butterfly_config.consensus.params import ConsensusParams, Member
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import (
    Event,
    HardState,
    ProposalCommitted,
    ProposalRefused,
    Verdict,
)

CLUSTER = "test-cluster"
GENESIS_DOC = b"revision-0"


def hash_fn(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def make_validator(node_id: str) -> Callable[[bytes, bytes], Verdict]:
    """Documents starting with b'invalid' fail validation everywhere; a document
    containing b'veto:<node_id>' is vetoed by that member's subscriber only."""

    def validate(document: bytes, head: bytes) -> Verdict:
        del head
        if document.startswith(b"invalid"):
            return Verdict.invalid("document is invalid")
        if f"veto:{node_id}".encode() in document:
            return Verdict.veto(f"subscriber on {node_id} refuses")
        return Verdict.accept()

    return validate


_SIGNERS: dict[tuple[int, str], list[Signer]] = {}


def signers(n: int, algorithm: str = "ed25519") -> list[Signer]:
    key = (n, algorithm)
    if key not in _SIGNERS:
        _SIGNERS[key] = [
            generate_signer(f"n{i}", algorithm)  # type: ignore[arg-type]
            for i in range(n)
        ]
    return _SIGNERS[key]


def make_params(n: int = 4, f: int | None = None, **overrides: object) -> ConsensusParams:
    algorithm = str(overrides.get("signing_algorithm", "ed25519"))
    members = tuple(
        Member(s.node_id, f"127.0.0.1:{7000 + i}", s.public_key_bytes())
        for i, s in enumerate(signers(n, algorithm))
    )
    return ConsensusParams(
        cluster_name=CLUSTER,
        members=members,
        f=(n - 1) // 3 if f is None else f,
        **overrides,  # type: ignore[arg-type]
    )


def genesis() -> Decided:
    return Decided(make_entry(hash_fn, CLUSTER, 0, "", GENESIS_DOC), None)


@dataclass
class Disk:
    """What a node persisted: its log and its last hard state."""

    log: list[Decided] = field(default_factory=lambda: [genesis()])
    hard_state: HardState | None = None


Drop = Callable[[str, str, Message], bool]


class Harness:
    """Replicas driven as docs/consensus.md prescribes (persist, send, advance).

    `played` members run no replica: the test plays them (a Byzantine member
    writing and signing its own messages), and what the replicas send them
    waits in `inbox`.
    """

    def __init__(
        self, params: ConsensusParams, now_ms: int = 0, played: frozenset[str] = frozenset()
    ) -> None:
        self.params = params
        self.now = now_ms
        self.signers = {s.node_id: s for s in signers(params.n, params.signing_algorithm)}
        self.played = played
        self.inbox: dict[str, list[Message]] = {m: [] for m in played}
        self.disks = {m: Disk() for m in params.member_ids}
        self.replicas: dict[str, Replica] = {}
        self.events: dict[str, list[Event]] = {m: [] for m in params.member_ids}
        self.applied: dict[str, list[Decided]] = {m: [] for m in params.member_ids}
        self.sent: list[tuple[str, str, Message]] = []
        self.network: deque[tuple[str, str, Message]] = deque()
        self.down: set[str] = set()
        self.drop: Drop | None = None
        for member in params.member_ids:
            if member not in played:
                self.start(member)

    # -- life cycle
    def start(self, member: str) -> Replica:
        disk = self.disks[member]
        replica = Replica(
            self.params,
            self.signers[member],
            make_validator(member),
            hash_fn,
            list(disk.log),
            disk.hard_state,
            now_ms=self.now,
        )
        self.replicas[member] = replica
        self.down.discard(member)
        self.collect(member)
        return replica

    def crash(self, member: str) -> None:
        self.down.add(member)
        self.replicas.pop(member, None)

    def restart(self, member: str) -> Replica:
        return self.start(member)

    def set_params(self, **changes: object) -> None:
        self.params = replace(self.params, **changes)  # type: ignore[arg-type]
        for replica in self.replicas.values():
            replica.set_params(self.params)

    # -- the caller's loop
    def collect(self, member: str) -> None:
        replica = self.replicas[member]
        while replica.has_ready():
            rd = replica.ready()
            disk = self.disks[member]
            for decided in rd.committed:
                assert decided.entry.revision == len(disk.log)
                disk.log.append(decided)
            if rd.hard_state is not None:
                disk.hard_state = rd.hard_state
            for out in rd.messages:
                self.sent.append((member, out.to, out.message))
                if out.to in self.played:
                    self.inbox[out.to].append(out.message)
                else:
                    self.network.append((member, out.to, out.message))
            self.applied[member].extend(rd.committed)
            self.events[member].extend(rd.events)
            replica.advance(rd)

    def deliver_one(self) -> bool:
        if not self.network:
            return False
        sender, to, message = self.network.popleft()
        if to in self.down or sender in self.down:
            return True
        if self.drop is not None and self.drop(sender, to, message):
            return True
        self.replicas[to].step(message)
        self.collect(to)
        return True

    def run(self, max_steps: int = 100_000) -> int:
        steps = 0
        while steps < max_steps and self.deliver_one():
            steps += 1
        return steps

    def tick(self, ms: int) -> None:
        self.now += ms
        for member, replica in list(self.replicas.items()):
            replica.tick(self.now)
            self.collect(member)

    def settle(self, rounds: int = 50, step_ms: int = 100) -> None:
        """Alternate delivery and time until nothing is left to do."""
        for _ in range(rounds):
            self.run()
            self.tick(step_ms)
        self.run()

    def propose(self, member: str, request_id: str, document: bytes) -> None:
        self.replicas[member].propose(request_id, document, initiator="tester")
        self.collect(member)

    def inject(self, sender: str, to: str, message: Message) -> None:
        self.network.append((sender, to, message))

    # -- observations
    def heads(self) -> dict[str, tuple[int, str]]:
        return {m: (r.head_revision, r.head.entry.digest) for m, r in self.replicas.items()}

    def answers(self, member: str, request_id: str) -> list[str]:
        """What `member` was told of its request, in order: "committed", "refused:<kind>"."""
        found = []
        for event in self.events[member]:
            if isinstance(event, ProposalCommitted) and event.request_id == request_id:
                found.append("committed")
            elif isinstance(event, ProposalRefused) and event.request_id == request_id:
                found.append(f"refused:{event.kind}")
        return found

    def events_of(self, member: str, kind: type) -> list[Event]:
        return [e for e in self.events[member] if isinstance(e, kind)]

    def sent_of(self, kind: type) -> list[tuple[str, str, Message]]:
        return [s for s in self.sent if isinstance(s[2], kind)]

    def check_agreement(self) -> None:
        """Same document at every revision on every replica, chained, contiguous."""
        by_revision: dict[int, str] = {}
        for disk in self.disks.values():
            for index, decided in enumerate(disk.log):
                assert decided.entry.revision == index
                if index:
                    assert decided.entry.parent_digest == disk.log[index - 1].entry.digest
                seen = by_revision.setdefault(index, decided.entry.digest)
                assert seen == decided.entry.digest, f"disagreement at revision {index}"
