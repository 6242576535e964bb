"""With a history source, a replica keeps only its newest revisions in memory.

A node's memory used to grow with every revision (each one's document and
certificate stayed in the replica's log: about 5 KB a revision, 0.5 GB after
100,000). Given a way to read revisions back from the store, the replica keeps
`retained_revisions` of them and the digests of all; a peer catching up from far
behind is served from the store, and nothing else changes.
"""

from __future__ import annotations

import pytest
from consensus_harness import Harness, hash_fn, make_params, make_validator

from butterfly_config.consensus.messages import FetchReply
from butterfly_config.consensus.replica import Replica

RETAINED = 4


class StoreBackedHarness(Harness):
    """Every replica reads old revisions back from its disk, as a node from its store."""

    def start(self, member: str) -> Replica:
        disk = self.disks[member]
        replica = Replica(
            self.params, self.signers[member], make_validator(member), hash_fn,
            iter(list(disk.log)), disk.hard_state, now_ms=self.now,
            history_source=lambda first, count: disk.log[first : first + count],
            retained_revisions=RETAINED,
        )
        self.replicas[member] = replica
        self.down.discard(member)
        self.collect(member)
        return replica


def test_memory_holds_the_newest_revisions_and_a_far_behind_peer_still_catches_up() -> None:
    h = StoreBackedHarness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda sender, to, message: "n3" in (sender, to)
    for i in range(20):
        h.propose("n0", f"r{i}", b"doc-%d" % i)
        h.settle(rounds=100)
    h.drop = None
    for member in ("n0", "n1", "n2"):
        replica = h.replicas[member]
        assert replica.head_revision == 20
        assert [d.entry.revision for d in replica.log] == [17, 18, 19, 20]
        assert all(replica.decided(r) == h.disks[member].log[r] for r in range(21))
        assert replica.decided(21) is None and replica.decided(-1) is None
    assert h.replicas["n3"].head_revision == 0

    h.replicas["n3"].request_sync()
    h.collect("n3")
    h.settle(rounds=5)
    assert h.replicas["n3"].head_revision == 20
    replies = [m for _, to, m in h.sent if isinstance(m, FetchReply) and to == "n3"]
    assert any(m.decided and m.decided[0].entry.revision == 1 for m in replies)
    h.check_agreement()

    h.propose("n3", "after", b"doc-after")  # and the cluster goes on
    h.settle(rounds=100)
    assert {head for head, _ in h.heads().values()} == {21}
    h.check_agreement()


def test_a_restart_reads_the_history_once_and_keeps_the_newest() -> None:
    h = StoreBackedHarness(make_params(4, protocol="standard_pbft"))
    for i in range(10):
        h.propose("n0", f"r{i}", b"doc-%d" % i)
        h.run()
    h.crash("n2")
    restarted = h.restart("n2")
    assert restarted.head_revision == 10
    assert len(restarted.log) == RETAINED
    h.propose("n1", "r-next", b"doc-next")
    h.run()
    assert {head for head, _ in h.heads().values()} == {11}
    h.check_agreement()


def test_at_least_the_head_stays_in_memory() -> None:
    h = Harness(make_params(4))
    with pytest.raises(ValueError, match="head revision stays in memory"):
        Replica(h.params, h.signers["n0"], make_validator("n0"), hash_fn, h.disks["n0"].log,
                history_source=lambda first, count: [], retained_revisions=0)
