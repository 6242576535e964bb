"""View change: timeouts, back-off, re-proposal of locked and possibly fast-decided values."""

from __future__ import annotations

import itertools

import pytest
from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import (
    CommitRequest,
    Finalize,
    NewView,
    Propose,
    ViewChange,
)
from butterfly_config.consensus.state import (
    ProposalAborted,
    ProposalCommitted,
    ProposalRefused,
    ViewChanged,
    ViewChangeFailed,
)


def documents(h: Harness, member: str) -> list[bytes]:
    return [d.entry.document for d in h.disks[member].log[1:]]


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
def test_crashed_coordinator_is_replaced_and_the_request_commits(protocol: str) -> None:
    h = Harness(make_params(4, protocol=protocol))
    h.crash("n0")
    h.propose("n2", "r1", b"doc-1")
    h.settle(rounds=300)
    assert [e.view for e in h.events_of("n2", ViewChanged)] == [1]  # type: ignore[attr-defined]
    assert h.replicas["n1"].coordinator == "n1"
    assert [e.request_id for e in h.events_of("n2", ProposalCommitted)] == ["r1"]  # type: ignore[attr-defined]
    assert {documents(h, m)[-1] for m in ("n1", "n2", "n3")} == {b"doc-1"}
    h.check_agreement()


def test_view_change_waits_for_the_timeout_and_needs_a_quorum() -> None:
    h = Harness(make_params(4))
    h.crash("n0")
    h.propose("n2", "r1", b"doc-1")
    h.run()
    h.tick(h.params.view_change_timeout_ms - 1)
    h.run()
    assert not h.sent_of(ViewChange)
    h.settle(rounds=150)
    assert h.sent_of(NewView)
    assert h.replicas["n3"].view == 1


def test_locked_value_is_re_proposed_after_a_view_change() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    # n0 forms a prepare certificate; only n1 gets the COMMIT; then n0 crashes
    h.drop = lambda s, t, m: s == "n0" and isinstance(m, CommitRequest | Finalize) and t != "n1"
    h.propose("n0", "r1", b"doc-A")
    h.run()
    assert h.replicas["n1"]._lock is not None
    h.crash("n0")
    h.drop = None
    h.propose("n2", "r2", b"doc-B")
    h.settle(rounds=300)
    assert [e.kind for e in h.events_of("n2", ProposalRefused)] == ["busy"]  # type: ignore[attr-defined]
    for member in ("n1", "n2", "n3"):
        assert documents(h, member) == [b"doc-A"]
    new_view_proposals = [m for _, _, m in h.sent if isinstance(m, Propose) and m.view == 1]
    assert new_view_proposals and new_view_proposals[0].justification
    h.check_agreement()


def test_possible_fast_decision_survives_a_view_change() -> None:
    h = Harness(make_params(4, protocol="optimistic_pbft"))
    # n0 gathers all n PREPARE_OKs and applies on the fast path, but its
    # FINALIZE reaches nobody before it crashes
    h.drop = lambda s, t, m: s == "n0" and isinstance(m, Finalize)
    h.propose("n0", "r1", b"doc-A")
    h.run()
    assert h.replicas["n0"].head_revision == 1
    assert all(h.replicas[m].head_revision == 0 for m in ("n1", "n2", "n3"))
    h.crash("n0")
    h.drop = None
    h.propose("n3", "r2", b"doc-B")
    h.settle(rounds=300)
    for member in ("n1", "n2", "n3"):
        assert documents(h, member)[0] == b"doc-A"
    h.restart("n0")
    h.settle(rounds=30)
    h.check_agreement()


def test_suspected_coordinator_triggers_a_view_change_at_once() -> None:
    h = Harness(make_params(4))
    for member in ("n1", "n2"):
        h.replicas[member].suspect_coordinator()
        h.collect(member)
    h.run()
    # f+1 = 2 members asking for view 1 make the others join
    assert {r.view for r in h.replicas.values()} == {1}
    assert all(r.established for r in h.replicas.values())
    h.propose("n3", "r1", b"doc-1")
    h.run()
    assert h.replicas["n0"].head.entry.document == b"doc-1"


def test_one_suspicious_member_cannot_change_the_view_alone() -> None:
    h = Harness(make_params(4))
    h.replicas["n3"].suspect_coordinator()
    h.collect("n3")
    h.run()
    assert [r.view for r in h.replicas.values()] == [0, 0, 0, 1]
    h.propose("n1", "r1", b"doc-1")
    h.run()
    h.tick(h.params.prepare_timeout_ms)  # n3 no longer answers in view 0
    h.run()
    assert h.replicas["n1"].head_revision == 1
    assert h.replicas["n3"].head_revision == 1  # FINALIZE is proof in any view


def test_back_off_and_failure_report_then_recovery_when_the_network_heals() -> None:
    params = make_params(4, view_change_timeout_ms=1000, max_view_change_attempts=3)
    h = Harness(params)
    isolated = {"n1", "n2", "n3"}
    h.drop = lambda s, t, m: s in isolated and t in isolated  # nobody reaches a quorum
    h.crash("n0")
    h.propose("n1", "r1", b"doc-1")
    starts: list[int] = []
    rounds = 0
    for _ in range(250):
        h.tick(100)
        h.run()
        if h.replicas["n1"]._vc_round != rounds:
            rounds = h.replicas["n1"]._vc_round
            starts.append(h.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[:3] == [1500, 2300, 3400]  # 1000 x 1.5^k, rounded up to the 100 ms ticks
    assert set(gaps[3:]) == {3400}  # capped at max_view_change_attempts
    assert h.events_of("n1", ViewChangeFailed) == [ViewChangeFailed(1, 3)]
    # alone, n1 never moved past view 1 (PBFT: only with q requests for view 1)
    assert [h.replicas[m].view for m in ("n1", "n2", "n3")] == [1, 0, 0]
    h.drop = None
    h.restart("n0")
    h.propose("n2", "r2", b"doc-2")
    h.settle(rounds=100)
    assert {r.head.entry.document for r in h.replicas.values()} == {b"doc-2"}
    h.check_agreement()


def test_members_move_past_a_failed_new_coordinator() -> None:
    h = Harness(make_params(4))
    h.crash("n0")
    h.crash("n1")  # coordinator of view 1 is down too (f exceeded only briefly)
    h.propose("n2", "r1", b"doc-1")
    h.settle(rounds=150)
    assert {h.replicas[m].view for m in ("n2", "n3")} == {1}
    h.restart("n0")
    h.settle(rounds=1000)
    assert {h.replicas[m].view for m in ("n0", "n2", "n3")} == {2}
    # the first request outlived its deadline while two members were down
    aborted = h.events_of("n2", ProposalAborted)
    assert [e.request_id for e in aborted] == ["r1"]  # type: ignore[attr-defined]
    h.propose("n3", "r2", b"doc-2")
    h.settle(rounds=40)
    assert {h.replicas[m].head.entry.document for m in ("n0", "n2", "n3")} == {b"doc-2"}


def test_new_view_with_too_few_reports_is_refused() -> None:
    h = Harness(make_params(4))
    for member in ("n1", "n2"):
        h.replicas[member].suspect_coordinator()
        h.collect(member)
    h.run()
    new_view = next(m for _, _, m in h.sent if isinstance(m, NewView))
    from butterfly_config.consensus.crypto import sign_message

    short = sign_message(
        h.signers["n1"],
        NewView(new_view.cluster, "n1", 2, 0, new_view.revision, new_view.reports[:2]),
    )
    replica = h.replicas["n3"]
    replica.step(short)
    h.collect("n3")
    assert replica.view == 1


def test_coordinator_proposing_an_invalid_document_is_evidence() -> None:
    from consensus_harness import CLUSTER, hash_fn

    from butterfly_config.consensus.crypto import sign_message
    from butterfly_config.consensus.messages import make_entry
    from butterfly_config.consensus.state import EvidenceFound

    h = Harness(make_params(4))
    parent = h.replicas["n1"].head.entry.digest
    entry = make_entry(hash_fn, CLUSTER, 1, parent, b"invalid document", "x")
    propose = sign_message(h.signers["n0"], Propose(CLUSTER, "n0", 0, 0, 1, entry, True, ()))
    for member in ("n1", "n2", "n3"):
        h.inject("n0", member, propose)
    h.run()
    kinds = [(e.member, e.kind) for e in h.events_of("n1", EvidenceFound)]  # type: ignore[attr-defined]
    assert kinds == [("n0", "invalid_proposal")]
    assert h.replicas["n1"].reputation("n0") == 75.0


def test_coordinator_that_aborts_everything_loses_its_view() -> None:
    h = Harness(make_params(4, view_change_timeout_ms=2000))
    liar = h.replicas["n0"]

    def always_abort() -> None:
        if liar._round is not None and liar._round.phase == "prepare":
            liar._abort(liar._round, "prepare timeout")

    liar._advance_prepare = always_abort  # type: ignore[method-assign]
    h.propose("n2", "r1", b"doc-1")
    for _ in range(300):  # the liar re-proposes and aborts as fast as messages flow
        h.run(max_steps=60)
        h.tick(100)
        if h.replicas["n2"].head_revision:
            break
    assert h.replicas["n2"].view >= 1
    assert h.replicas["n2"].head.entry.document == b"doc-1"
    h.check_agreement()
