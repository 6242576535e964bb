"""Hand-played attacks: honest replicas (the harness), and Byzantine members whose
messages the test writes and signs itself with their real keys.

What the replicas send a Byzantine member waits in the harness's `inbox`;
the test takes it from there and answers (or not) as it likes.
"""

from __future__ import annotations

from consensus_harness import Harness, hash_fn

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


class Cluster(Harness):
    def __init__(self, params: ConsensusParams, byzantine: set[str]) -> None:
        super().__init__(params, played=frozenset(byzantine))
        self.byzantine = set(byzantine)
        self.honest = [m for m in params.member_ids if m not in self.byzantine]

    def step(self, member: str, message: Message) -> None:
        self.replicas[member].step(message)
        self.collect(member)

    def send_all(self, message: Message, to: list[str] | None = None) -> None:
        for member in to if to is not None else self.honest:
            self.step(member, message)

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

    def propose_as(
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
