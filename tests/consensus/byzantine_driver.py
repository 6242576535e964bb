"""A driver for hand-played attacks: honest Replica objects, and Byzantine members
whose messages the test writes and signs itself.

Honest replicas are driven exactly as docs/consensus.md prescribes (persist
Ready.committed / Ready.hard_state, then send, then advance). Messages an honest
replica sends to the Byzantine member are captured in `inbox`; messages between
honest replicas go through a FIFO queue the test delivers (or filters) explicitly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from consensus_harness import Disk, hash_fn, make_validator, signers

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    Abort,
    CommitCertificate,
    Decided,
    Entry,
    Finalize,
    Message,
    PrepareOk,
    Propose,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import Event


class Cluster:
    def __init__(self, params: ConsensusParams, byzantine: set[str]) -> None:
        self.params = params
        self.signers = {s.node_id: s for s in signers(params.n, params.signing_algorithm)}
        self.byzantine = set(byzantine)
        self.honest = [m for m in params.member_ids if m not in self.byzantine]
        self.disks = {m: Disk() for m in self.honest}
        self.replicas: dict[str, Replica] = {}
        self.events: dict[str, list[Event]] = {m: [] for m in self.honest}
        self.inbox: dict[str, list[Message]] = {m: [] for m in self.byzantine}
        self.network: deque[tuple[str, str, Message]] = deque()
        self.now = 0
        for member in self.honest:
            self.start(member)

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
        self.collect(member)
        return replica

    def crash(self, member: str) -> None:
        self.replicas.pop(member)

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
                if out.to in self.byzantine:
                    self.inbox[out.to].append(out.message)
                else:
                    self.network.append((member, out.to, out.message))
            self.events[member].extend(rd.events)
            replica.advance(rd)

    def step(self, member: str, message: Message) -> None:
        self.replicas[member].step(message)
        self.collect(member)

    def send_all(self, message: Message, to: list[str] | None = None) -> None:
        for member in to if to is not None else self.honest:
            self.step(member, message)

    def run(self, drop: Callable[[str, str, Message], bool] | None = None) -> None:
        while self.network:
            sender, to, message = self.network.popleft()
            if to not in self.replicas:
                continue
            if drop is not None and drop(sender, to, message):
                continue
            self.step(to, message)

    def tick(self, ms: int) -> None:
        self.now += ms
        for member, replica in list(self.replicas.items()):
            replica.tick(self.now)
            self.collect(member)

    # -- the Byzantine member's pen
    def sign(self, member: str, message: Message) -> Message:
        return sign_message(self.signers[member], message)

    def take(self, member: str, kind: type) -> list[Message]:
        """Remove and return what honest members sent `member` of that kind."""
        taken = [m for m in self.inbox[member] if isinstance(m, kind)]
        self.inbox[member] = [m for m in self.inbox[member] if not isinstance(m, kind)]
        return taken

    def entry(self, revision: int, parent: str, document: bytes, request_id: str) -> Entry:
        return make_entry(
            hash_fn, self.params.cluster_name, revision, parent, document, request_id, "n1", "t"
        )

    def propose(
        self,
        coordinator: str,
        ballot: tuple[int, int],
        entry: Entry,
        justification: tuple[ViewChange, ...] = (),
        to: list[str] | None = None,
    ) -> Propose:
        fast = self.params.protocol == "optimistic_pbft"
        msg = self.sign(
            coordinator,
            Propose(
                self.params.cluster_name, coordinator, ballot[0], ballot[1], entry.revision,
                entry, fast, justification,
            ),
        )
        self.send_all(msg, to)
        return msg  # type: ignore[return-value]

    def own_ok(self, member: str, ballot: tuple[int, int], entry: Entry, fast: bool) -> PrepareOk:
        return self.sign(  # type: ignore[return-value]
            member,
            PrepareOk(
                self.params.cluster_name, member, ballot[0], ballot[1], entry.revision,
                entry.digest, fast,
            ),
        )

    def finalize(self, sender: str, entry: Entry, cert: CommitCertificate) -> Finalize:
        return self.sign(  # type: ignore[return-value]
            sender,
            Finalize(
                self.params.cluster_name, sender, cert.view, cert.attempt, entry.revision,
                Decided(entry, cert),
            ),
        )

    def fast_certificate(
        self, ballot: tuple[int, int], entry: Entry, oks: list[PrepareOk]
    ) -> CommitCertificate:
        votes = tuple(sorted(oks, key=lambda v: v.sender))
        return CommitCertificate(ballot[0], ballot[1], entry.revision, entry.digest, (), votes)

    def abort(self, coordinator: str, ballot: tuple[int, int], entry: Entry,
              reason: str = "prepare timeout") -> Abort:
        return self.sign(  # type: ignore[return-value]
            coordinator,
            Abort(
                self.params.cluster_name, coordinator, ballot[0], ballot[1], entry.revision,
                entry.digest, entry.request_id, entry.origin, reason, (),
            ),
        )
