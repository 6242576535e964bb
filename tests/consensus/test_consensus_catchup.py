"""Catch-up of missed revisions, divergence detection, and restarts from persisted state."""

from __future__ import annotations

import dataclasses

import pytest
from consensus_harness import CLUSTER, Harness, genesis, hash_fn, make_params

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    Abort,
    Decided,
    Fetch,
    FetchReply,
    PrepareOk,
    Propose,
    Status,
    make_entry,
)
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import CaughtUp, EvidenceFound, ProposalCommitted


def evidence(h: Harness, member: str) -> list[tuple[str, str]]:
    return [(e.member, e.kind) for e in h.events_of(member, EvidenceFound)]  # type: ignore[attr-defined]


def partitioned_history(revisions: int = 3) -> Harness:
    """n3 is cut off while `revisions` updates commit among the other three."""
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: "n3" in (s, t)
    for i in range(1, revisions + 1):
        h.propose("n0", f"r{i}", f"doc-{i}".encode())
        h.run()
        h.tick(h.params.prepare_timeout_ms)
        h.run()
    assert h.replicas["n0"].head_revision == revisions
    assert h.replicas["n3"].head_revision == 0
    return h


def test_member_behind_catches_up_with_verified_certificates() -> None:
    h = partitioned_history()
    h.drop = None
    h.settle(rounds=20)
    assert h.replicas["n3"].head_revision == 3
    caught = h.events_of("n3", CaughtUp)
    assert caught and caught[0].from_revision == 1  # type: ignore[attr-defined]
    assert [d.entry.document for d in h.applied["n3"]] == [b"doc-1", b"doc-2", b"doc-3"]
    h.check_agreement()


def test_request_sync_fetches_at_once() -> None:
    h = partitioned_history(2)
    h.drop = None
    h.replicas["n3"].request_sync()
    h.collect("n3")
    h.run()
    assert h.replicas["n3"].head_revision == 2


def _reply_to_n3(h: Harness, decided: tuple[Decided, ...]) -> FetchReply:
    reply = FetchReply(CLUSTER, "n1", 0, 0, h.replicas["n1"].head_revision, decided)
    return sign_message(h.signers["n1"], reply)


def test_fetched_revision_with_a_bad_certificate_is_refused_and_is_evidence() -> None:
    h = partitioned_history(1)
    good = h.replicas["n1"].log[1]
    assert good.certificate is not None
    cert = dataclasses.replace(good.certificate, commit_votes=good.certificate.commit_votes[:2])
    h.replicas["n3"].step(_reply_to_n3(h, (dataclasses.replace(good, certificate=cert),)))
    h.collect("n3")
    assert h.replicas["n3"].head_revision == 0
    assert ("n1", "bad_certificate") in evidence(h, "n3")


def test_fetched_revision_with_another_document_is_refused() -> None:
    h = partitioned_history(1)
    good = h.replicas["n1"].log[1]
    forged = dataclasses.replace(good, entry=dataclasses.replace(good.entry, document=b"evil"))
    h.replicas["n3"].step(_reply_to_n3(h, (forged,)))
    h.collect("n3")
    assert h.replicas["n3"].head_revision == 0
    assert ("n1", "bad_certificate") in evidence(h, "n3")


def test_fetched_revisions_must_chain() -> None:
    h = partitioned_history(2)
    log = h.replicas["n1"].log
    h.replicas["n3"].step(_reply_to_n3(h, (log[2],)))  # skips revision 1
    h.collect("n3")
    assert h.replicas["n3"].head_revision == 0
    h.replicas["n3"].step(_reply_to_n3(h, (log[1], log[2])))
    h.collect("n3")
    assert h.replicas["n3"].head_revision == 2


def test_divergent_status_is_evidence() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc-1")
    h.run()
    lie = sign_message(h.signers["n2"], Status(CLUSTER, "n2", 0, 0, 1, "f" * 64))
    h.replicas["n1"].step(lie)
    h.collect("n1")
    assert ("n2", "divergent_head") in evidence(h, "n1")


def test_restarted_member_does_not_sign_a_second_digest_in_a_ballot() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: s == "n0"  # the coordinator's messages are lost
    h.propose("n0", "r1", b"doc-A")
    h.run()
    first = next(m for s, t, m in h.sent if isinstance(m, Propose) and t == "n2")
    h.drop = None
    h.replicas["n2"].step(first)
    h.collect("n2")
    assert h.disks["n2"].hard_state is not None
    assert h.disks["n2"].hard_state.vote is not None
    h.crash("n2")
    h.restart("n2")
    parent = h.replicas["n2"].head.entry.digest
    other = make_entry(hash_fn, CLUSTER, 1, parent, b"doc-B")
    second = sign_message(h.signers["n0"], dataclasses.replace(first, entry=other, signature=b""))
    before = len(h.sent)
    h.replicas["n2"].step(second)
    h.collect("n2")
    votes = [m for _, _, m in h.sent[before:] if isinstance(m, PrepareOk)]
    assert votes == []
    assert ("n0", "equivocation") not in evidence(h, "n2")
    h.crash("n2")
    h.restart("n2")
    h.replicas["n2"].step(first)  # the same proposal again: the same vote again
    h.collect("n2")
    votes = [m for _, _, m in h.sent[before:] if isinstance(m, PrepareOk)]
    assert [v.digest for v in votes] == [first.entry.digest]


def test_restarted_coordinator_finishes_its_own_proposal() -> None:
    h = Harness(make_params(4))
    h.drop = lambda s, t, m: s == "n0"
    h.propose("n1", "r1", b"doc-1")
    h.run()
    assert h.disks["n0"].hard_state.proposal is not None  # type: ignore[union-attr]
    h.crash("n0")
    h.drop = None
    h.restart("n0")  # re-sends the same PROPOSE in the same ballot
    h.run()
    assert {r.head.entry.document for r in h.replicas.values()} == {b"doc-1"}
    assert [e.request_id for e in h.events_of("n1", ProposalCommitted)] == ["r1"]  # type: ignore[attr-defined]
    h.check_agreement()


def test_restarted_coordinator_without_its_reports_opens_a_new_attempt() -> None:
    h = Harness(make_params(4))
    for member in ("n1", "n2"):
        h.replicas[member].suspect_coordinator()
        h.collect(member)
    h.run()
    assert h.replicas["n1"].coordinator == "n1" and h.replicas["n1"].established
    h.drop = lambda s, t, m: t == "n1"  # the members' votes are lost
    h.propose("n1", "r1", b"doc-1")
    h.run()
    h.crash("n1")
    h.drop = None
    h.restart("n1")  # view 1 without its NEW_VIEW reports: ABORT, reports for (1, 1)
    h.settle(rounds=30)
    # all members had voted for doc-1 on the fast path: the new attempt must re-propose it
    assert {r.head.entry.document for r in h.replicas.values()} == {b"doc-1"}
    assert any(isinstance(m, Abort) and m.ballot == (1, 0) for _, _, m in h.sent)
    assert h.replicas["n1"].ballot == (1, 0)  # attempts restart with the next revision
    h.check_agreement()


def test_log_ahead_of_hard_state_is_accepted_after_a_crash() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc-1")
    h.run()
    disk = h.disks["n2"]
    old_state = dataclasses.replace(
        disk.hard_state, head_revision=0, head_digest=disk.log[0].entry.digest
    )  # type: ignore[arg-type]
    replica = Replica(
        h.params,
        h.signers["n2"],
        lambda d, p: h.replicas["n2"]._validate(d, p),
        hash_fn,
        disk.log,
        old_state,
    )
    assert replica.head_revision == 1


def test_inconsistent_log_is_refused() -> None:
    h = Harness(make_params(4))
    other = make_entry(hash_fn, CLUSTER, 1, "not-the-parent", b"doc")
    with pytest.raises(ValueError, match="does not chain"):
        Replica(
            h.params,
            h.signers["n0"],
            lambda d, p: h.replicas["n0"]._validate(d, p),
            hash_fn,
            [genesis(), Decided(other, None)],
        )


def test_origin_hears_commit_even_if_it_learns_by_catch_up() -> None:
    h = Harness(make_params(4))
    h.drop = lambda s, t, m: t == "n3" and type(m).__name__ == "Finalize"
    h.propose("n3", "r1", b"doc-1")
    h.run()
    h.drop = None
    h.settle(rounds=20)
    assert [e.request_id for e in h.events_of("n3", ProposalCommitted)] == ["r1"]  # type: ignore[attr-defined]


def test_a_repeated_fetch_is_served_once_per_status_interval() -> None:
    """A FETCH is ~120 bytes; its reply up to FETCH_BATCH revisions with certificates
    (about 300 KiB and 2 ms of work for 64 revisions of 4 KB). Repeating the same FETCH
    must not make an honest replica spend that again and again for a faulty member."""
    from butterfly_config.consensus.replica import FETCH_BATCH

    h = Harness(make_params(4, protocol="standard_pbft"))
    for i in range(FETCH_BATCH + 6):
        h.propose("n0", f"r{i}", b"doc-%d" % i)
        h.run()
    server = h.replicas["n1"]
    interval = h.params.status_interval_ms

    def replies() -> list[FetchReply]:
        return [m for s, t, m in h.sent if isinstance(m, FetchReply) and s == "n1" and t == "n3"]

    def fetch(after: int) -> None:
        server.step(sign_message(h.signers["n3"], Fetch(CLUSTER, "n3", 0, 0, after)))
        h.collect("n1")

    for _ in range(20):
        fetch(0)
    assert len(replies()) == 1
    assert len(replies()[0].decided) == FETCH_BATCH
    fetch(FETCH_BATCH)  # progress: the next batch at once
    assert len(replies()) == 2 and replies()[1].decided[0].entry.revision == FETCH_BATCH + 1
    fetch(0)  # an earlier batch again, too soon
    assert len(replies()) == 2
    h.tick(interval)
    fetch(0)  # a reply lost on the way is asked for again after an interval
    assert len(replies()) == 3
    # another member's FETCH is judged on its own
    server.step(sign_message(h.signers["n2"], Fetch(CLUSTER, "n2", 0, 0, 0)))
    h.collect("n1")
    assert any(t == "n2" for s, t, m in h.sent if isinstance(m, FetchReply) and s == "n1")
