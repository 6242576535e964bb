"""Aborts (reject, timeout, unreachable quorum), evidence, reputation and isolation."""

from __future__ import annotations

import dataclasses

import pytest
from consensus_harness import Harness, hash_fn, make_params

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    Abort,
    CommitRequest,
    NewView,
    PrepareOk,
    PrepareReject,
    Propose,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.params import ReputationParams
from butterfly_config.consensus.state import (
    EvidenceFound,
    ProposalAborted,
    ProposalCommitted,
    ReputationChanged,
)


def evidence(h: Harness, member: str) -> list[tuple[str, str]]:
    return [(e.member, e.kind) for e in h.events_of(member, EvidenceFound)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
def test_subscriber_veto_aborts_and_nothing_is_applied(protocol: str) -> None:
    h = Harness(make_params(4, protocol=protocol))
    h.propose("n1", "r1", b"doc veto:n2")
    h.run()
    assert h.events_of("n1", ProposalAborted) == [
        ProposalAborted("r1", "n2: subscriber on n2 refuses", ("n2",))
    ]
    assert all(r.head_revision == 0 for r in h.replicas.values())
    assert ("n2", "unverifiable_veto") in evidence(h, "n0")
    assert h.replicas["n0"].reputation("n2") == 95.0
    # the next update goes through on a fresh ballot, and the vetoed one is not revived
    h.propose("n3", "r2", b"doc-2")
    h.run()
    assert {r.head.entry.document for r in h.replicas.values()} == {b"doc-2"}
    assert {r.ballot for r in h.replicas.values()} == {(0, 0)}
    h.check_agreement()


@pytest.mark.parametrize(("protocol", "final"), [("standard_pbft", True),
                                                 ("optimistic_pbft", False)])
def test_one_veto_with_f_2_is_final_only_without_the_fast_path(protocol: str, final: bool) -> None:
    """n = 7, f = 2: one member's veto cannot rule out a fast-path decision (the vetoer
    could have signed OK too), so on the fast path the next ballot re-proposes the
    entry and it commits over the veto; the origin is told the abort is not final and
    keeps waiting, so its client hears the real outcome. Without the fast path the
    veto ends the update."""
    h = Harness(make_params(7, protocol=protocol))
    h.propose("n1", "r1", b"doc veto:n3")
    h.settle(rounds=100)
    aborted = h.events_of("n1", ProposalAborted)
    assert [(e.rejected_by, e.final) for e in aborted] == [(("n3",), final)]  # type: ignore[attr-defined]
    committed = [e.request_id for e in h.events_of("n1", ProposalCommitted)]  # type: ignore[attr-defined]
    assert committed == ([] if final else ["r1"])
    assert {r.head_revision for r in h.replicas.values()} == {0 if final else 1}
    h.check_agreement()


def test_reject_citing_an_error_the_coordinator_does_not_reproduce_is_evidence() -> None:
    h = Harness(make_params(4))
    liar = h.replicas["n3"]

    def lie(document: bytes, head: bytes) -> object:
        from butterfly_config.consensus.state import Verdict

        return Verdict.invalid("made-up error")

    liar._validate = lie  # type: ignore[assignment]
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert ("n3", "false_reject") in evidence(h, "n0")
    assert h.replicas["n0"].reputation("n3") == 75.0
    h.tick(h.params.prepare_timeout_ms)
    h.run()
    assert h.events_of("n0", ProposalCommitted)
    assert h.replicas["n1"].head.entry.document == b"doc-1"


def test_repeated_vetoes_isolate_a_member_whose_vetoes_then_stop_counting() -> None:
    rep = ReputationParams(decay_rate=30.0, isolate_threshold=50.0, suspect_threshold=80.0)
    h = Harness(make_params(4, reputation=rep))
    h.propose("n0", "r1", b"a veto:n3")
    h.run()
    h.propose("n0", "r2", b"b veto:n3")
    h.run()
    assert h.replicas["n0"].member_state("n3") == "isolated"
    states = [e.state for e in h.events_of("n0", ReputationChanged)]  # type: ignore[attr-defined]
    assert states == ["suspect", "isolated"]
    h.propose("n0", "r3", b"c veto:n3")
    h.run()
    assert h.replicas["n0"].head_revision == 0  # n3's reply ignored: wait for the timeout
    h.settle(rounds=50)
    assert h.replicas["n0"].head.entry.document == b"c veto:n3"
    # quorum size unchanged, n3 catches up from the others and converges
    h.settle(rounds=20)
    assert h.replicas["n3"].head_revision == 1
    h.replicas["n0"].reset_reputation("n3")
    assert h.replicas["n0"].member_state("n3") == "trusted"


def test_timeout_aborts_before_any_prepare_certificate() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.crash("n2")
    h.crash("n3")
    h.propose("n1", "r1", b"doc-1")
    h.run()
    h.tick(h.params.prepare_timeout_ms)
    h.run()
    aborted = h.events_of("n1", ProposalAborted)
    assert [e.reason for e in aborted] == ["prepare timeout"]  # type: ignore[attr-defined]
    assert h.replicas["n0"].head_revision == 0


def test_unreachable_quorum_aborts_at_once() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc veto:n1 veto:n2")
    h.run()
    aborted = h.events_of("n0", ProposalAborted)
    assert len(aborted) == 1 and aborted[0].rejected_by == ("n1",)  # type: ignore[attr-defined]


def test_no_abort_after_a_prepare_certificate() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.crash("n3")
    h.propose("n0", "r1", b"doc-1")
    h.run()
    h.tick(h.params.prepare_timeout_ms)  # q answers: prepare certificate, COMMIT sent
    h.drop = lambda s, t, m: type(m).__name__ == "CommitVote"
    h.run()
    h.tick(h.params.commit_timeout_ms * 2)
    h.run()
    assert not [m for _, _, m in h.sent if isinstance(m, Abort)]
    h.drop = None
    h.settle(rounds=10)
    assert h.replicas["n0"].head_revision == 1


def test_abort_from_a_non_coordinator_is_ignored() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc-1")
    rogue = sign_message(
        h.signers["n2"], Abort("test-cluster", "n2", 0, 0, 1, "x", "r1", "n0", "no", ())
    )
    h.inject("n2", "n1", rogue)
    h.run()
    assert all(r.head_revision == 1 for r in h.replicas.values())


def test_equivocating_voter_is_caught() -> None:
    h = Harness(make_params(4))
    h.drop = lambda s, t, m: isinstance(m, PrepareOk) and s == "n3"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    propose = next(m for _, _, m in h.sent if isinstance(m, Propose))
    signer = h.signers["n3"]
    base = PrepareOk("test-cluster", "n3", 0, 0, 1, propose.entry.digest, True)
    h.drop = None
    h.inject("n3", "n0", sign_message(signer, base))
    h.inject("n3", "n0", sign_message(signer, dataclasses.replace(base, digest="other")))
    h.run()
    kinds = evidence(h, "n0")
    assert ("n3", "equivocation") in kinds
    assert h.replicas["n0"].head_revision == 1


def test_reject_and_ok_in_one_ballot_is_equivocation() -> None:
    h = Harness(make_params(4))
    h.drop = lambda s, t, m: s == "n3" and t == "n0"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    digest = next(m for _, _, m in h.sent if isinstance(m, Propose)).entry.digest
    signer = h.signers["n3"]
    h.drop = None
    ok = sign_message(signer, PrepareOk("test-cluster", "n3", 0, 0, 1, digest, True))
    no = sign_message(signer, PrepareReject("test-cluster", "n3", 0, 0, 1, digest, "veto", "no"))
    h.inject("n3", "n0", ok)
    h.inject("n3", "n0", no)
    h.run()
    assert ("n3", "equivocation") in evidence(h, "n0")


def test_coordinator_with_a_bad_prepare_certificate_is_evidence() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: type(m).__name__ in ("CommitRequest", "Finalize") and t == "n2"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    request = next(m for _, _, m in h.sent if isinstance(m, CommitRequest))
    cert = request.certificate
    short = dataclasses.replace(cert, votes=cert.votes[:2])
    forged = sign_message(h.signers["n0"], dataclasses.replace(request, certificate=short))
    h.drop = None
    h.inject("n0", "n2", forged)
    h.run()
    assert ("n0", "bad_certificate") in evidence(h, "n2")
    assert h.replicas["n2"]._lock is None or h.replicas["n2"].head_revision == 1


def test_locked_member_refuses_a_conflicting_proposal() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: (
        (isinstance(m, CommitRequest) and t != "n1")
        or type(m).__name__ in ("CommitVote", "Finalize")
    )
    h.propose("n0", "r1", b"doc-A")
    h.run()
    locked = h.replicas["n1"]
    assert locked._lock is not None and h.replicas["n2"]._lock is None
    # Byzantine n0 hides its own lock; with the unlocked n2 and n3 its report
    # justifies a "free" ballot in view 2 (coordinator n2) for another entry
    byzantine = h.replicas["n0"]
    byzantine._lock = None
    byzantine._lock_entry = None
    reports = tuple(h.replicas[m]._report((2, 0)) for m in ("n0", "n2", "n3"))
    entry = make_entry(hash_fn, "test-cluster", 1, locked.head.entry.digest, b"doc-B")
    propose = sign_message(
        h.signers["n2"], Propose("test-cluster", "n2", 2, 0, 1, entry, False, reports)
    )
    before = len(h.sent)
    h.replicas["n3"].step(propose)
    h.collect("n3")
    locked.step(propose)
    h.collect("n1")
    voters = [s for s, _, m in h.sent[before:] if isinstance(m, PrepareOk)]
    assert voters == ["n3"]  # the unlocked member votes, the locked one refuses


def test_proposal_ignoring_its_forced_entry_is_evidence() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: type(m).__name__ in ("CommitVote", "Finalize")
    h.propose("n0", "r1", b"doc-A")
    h.run()
    reports = tuple(h.replicas[m]._report((1, 0)) for m in ("n0", "n2", "n3"))
    assert all(isinstance(r, ViewChange) and r.lock is not None for r in reports)
    entry = make_entry(hash_fn, "test-cluster", 1, h.replicas["n1"].head.entry.digest, b"doc-B")
    propose = sign_message(
        h.signers["n1"], Propose("test-cluster", "n1", 1, 0, 1, entry, False, reports)
    )
    before = len(h.sent)
    h.replicas["n2"].step(propose)
    h.collect("n2")
    assert ("n1", "bad_justification") in evidence(h, "n2")
    assert not [m for s, _, m in h.sent[before:] if isinstance(m, PrepareOk)]


def test_proposal_with_a_wrong_parent_is_evidence() -> None:
    h = Harness(make_params(4))
    entry = make_entry(hash_fn, "test-cluster", 1, "0" * 64, b"doc-1", "x")
    propose = sign_message(h.signers["n0"], Propose("test-cluster", "n0", 0, 0, 1, entry, True, ()))
    h.replicas["n1"].step(propose)
    h.collect("n1")
    assert ("n0", "invalid_proposal") in evidence(h, "n1")
    assert not [m for s, _, m in h.sent if s == "n1" and isinstance(m, PrepareOk)]


def test_finalize_without_a_valid_commit_certificate_is_not_applied() -> None:
    from butterfly_config.consensus.messages import CommitCertificate, Decided, Finalize

    h = Harness(make_params(4, protocol="standard_pbft"))
    h.drop = lambda s, t, m: isinstance(m, Finalize) and t == "n2"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    real = next(m for _, _, m in h.sent if isinstance(m, Finalize))
    cert = real.decided.certificate
    assert cert is not None
    too_few = dataclasses.replace(cert, commit_votes=cert.commit_votes[:2])
    other = make_entry(hash_fn, "test-cluster", 1, real.decided.entry.parent_digest, b"evil")
    attempts = [
        Decided(real.decided.entry, too_few),
        Decided(other, cert),
        Decided(real.decided.entry, CommitCertificate(0, 0, 1, cert.digest, (), ())),
    ]
    for decided in attempts:
        bogus = sign_message(h.signers["n1"], Finalize("test-cluster", "n1", 0, 0, 1, decided))
        h.replicas["n2"].step(bogus)
        h.collect("n2")
        assert h.replicas["n2"].head_revision == 0
    assert evidence(h, "n2").count(("n1", "bad_certificate")) == 3
    h.replicas["n2"].step(real)
    h.collect("n2")
    assert h.replicas["n2"].head.entry.document == b"doc-1"


def test_a_late_report_gets_a_new_view_its_reports_justify() -> None:
    """A coordinator re-sends the NEW_VIEW of its last established ballot to a member
    that reports late. After an ABORT it is already in the next attempt while that
    attempt's reports come in; the re-sent NEW_VIEW once named that attempt with the
    older reports, an invalid message, so honest members found evidence against an
    honest coordinator (the simulator's "no false evidence" invariant, seed 400001)."""
    h = Harness(make_params(4))
    h.propose("n1", "r1", b"doc veto:n2")
    h.run()  # aborted; (0, 1) established by a NEW_VIEW with its reports
    assert {r.ballot for r in h.replicas.values()} == {(0, 1)}
    late = next(m for s, _, m in h.sent_of(ViewChange)
                if s == "n3" and m.ballot == (0, 1))  # type: ignore[attr-defined]

    # the second veto opens (0, 2); its reports do not reach the coordinator yet
    h.drop = lambda s, to, m: isinstance(m, ViewChange) and to == "n0" and m.ballot == (0, 2)
    h.propose("n3", "r2", b"doc-2 veto:n2")
    h.run()
    assert h.replicas["n0"].ballot == (0, 2)
    h.drop = None
    before = len(h.sent_of(NewView))
    h.inject("n3", "n0", late)
    h.run()
    resent = [m for s, to, m in h.sent_of(NewView)[before:] if to == "n3"]
    assert resent and all(m.ballot == (0, 1) for m in resent)  # type: ignore[attr-defined]
    assert not [e for e in evidence(h, "n3") if e[0] == "n0"]


def test_a_late_copy_of_an_abort_is_not_answered_once_the_next_ballot_has_a_vote() -> None:
    """The copy would ask for a report on a ballot this member already voted in: such a
    report is invalid (its vote is not below the ballot) and was dropped unseen by the
    coordinator (the simulator's "valid reports" invariant, seed 910024)."""
    h = Harness(make_params(4))
    h.propose("n1", "r1", b"doc veto:n2")
    h.run()
    old_abort = next(m for _, to, m in h.sent_of(Abort) if to == "n2")
    assert old_abort.ballot == (0, 0)  # type: ignore[attr-defined]
    # the next proposal is voted on in (0, 1) but not decided yet
    h.drop = lambda s, to, m: isinstance(m, PrepareOk) and to == "n0"
    h.propose("n3", "r2", b"doc-2")
    h.run()
    assert h.replicas["n2"].ballot == (0, 1)
    h.drop = None
    before = len(h.sent)
    h.inject("n0", "n2", old_abort)
    h.run()
    assert [m for s, _, m in h.sent[before:] if s == "n2" and isinstance(m, ViewChange)] == []
    assert h.replicas["n2"].ballot == (0, 1)
