"""Certificate checks and the deterministic ballot selection rule."""

from __future__ import annotations

import dataclasses

import pytest
from consensus_harness import CLUSTER, genesis, hash_fn, make_params, signers

from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import KeyRing, generate_signer, sign_message
from butterfly_config.consensus.messages import (
    Abort,
    CommitCertificate,
    CommitVote,
    Decided,
    Entry,
    PrepareCertificate,
    PrepareOk,
    PrepareReject,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.selection import reports_problem, select

PARAMS = make_params(4)
SIGNERS = {s.node_id: s for s in signers(4)}
VERIFIER = Verifier(
    PARAMS,
    KeyRing({m.node_id: m.public_key for m in PARAMS.members}),
    hash_fn,
    genesis().entry,
)
GENESIS = genesis()
ENTRY_A = make_entry(hash_fn, CLUSTER, 1, GENESIS.entry.digest, b"doc-a")
ENTRY_B = make_entry(hash_fn, CLUSTER, 1, GENESIS.entry.digest, b"doc-b")


def ok(member: str, entry: Entry, ballot: tuple[int, int] = (0, 0), fast: bool = True) -> PrepareOk:
    vote = PrepareOk(CLUSTER, member, *ballot, entry.revision, entry.digest, fast)
    return sign_message(SIGNERS[member], vote)


def commit(member: str, entry: Entry, ballot: tuple[int, int] = (0, 0)) -> CommitVote:
    return sign_message(
        SIGNERS[member], CommitVote(CLUSTER, member, *ballot, entry.revision, entry.digest)
    )


def prepare_cert(
    members: list[str], entry: Entry = ENTRY_A, ballot: tuple[int, int] = (0, 0)
) -> PrepareCertificate:
    votes = tuple(ok(m, entry, ballot) for m in members)
    return PrepareCertificate(*ballot, entry.revision, entry.digest, votes)


def test_quorum_certificate_is_valid() -> None:
    assert VERIFIER.prepare_certificate_problem(prepare_cert(["n0", "n1", "n2"])) is None


def test_too_few_signers_is_rejected() -> None:
    problem = VERIFIER.prepare_certificate_problem(prepare_cert(["n0", "n1"]))
    assert problem == "2 signers, 3 needed"


def test_duplicate_signer_is_rejected() -> None:
    cert = prepare_cert(["n0", "n1", "n1"])
    assert "duplicate signer n1" in str(VERIFIER.prepare_certificate_problem(cert))


def test_unknown_signer_is_rejected() -> None:
    stranger = generate_signer("x")
    vote = sign_message(stranger, PrepareOk(CLUSTER, "x", 0, 0, 1, ENTRY_A.digest, True))
    cert = prepare_cert(["n0", "n1"])
    cert = dataclasses.replace(cert, votes=(*cert.votes, vote))
    assert "not a member" in str(VERIFIER.prepare_certificate_problem(cert))


def test_mismatched_hash_is_rejected() -> None:
    votes = (ok("n0", ENTRY_A), ok("n1", ENTRY_A), ok("n2", ENTRY_B))
    cert = PrepareCertificate(0, 0, 1, ENTRY_A.digest, votes)
    assert "another ballot, revision or digest" in str(VERIFIER.prepare_certificate_problem(cert))


def test_forged_signature_is_rejected() -> None:
    cert = prepare_cert(["n0", "n1", "n2"])
    forged = cert.votes[2].with_signature(cert.votes[1].signature)
    cert = dataclasses.replace(cert, votes=(*cert.votes[:2], forged))
    assert "bad signature from n2" in str(VERIFIER.prepare_certificate_problem(cert))


def test_vote_from_another_cluster_is_rejected() -> None:
    foreign = sign_message(SIGNERS["n2"], PrepareOk("other", "n2", 0, 0, 1, ENTRY_A.digest, True))
    cert = prepare_cert(["n0", "n1"])
    cert = dataclasses.replace(cert, votes=(*cert.votes, foreign))
    assert VERIFIER.prepare_certificate_problem(cert) is not None


def test_fast_certificate_needs_all_n_fast_votes() -> None:
    three = tuple(ok(m, ENTRY_A) for m in ["n0", "n1", "n2"])
    four = (*three, ok("n3", ENTRY_A))
    assert (
        VERIFIER.commit_certificate_problem(CommitCertificate(0, 0, 1, ENTRY_A.digest, (), four))
        is None
    )
    short = CommitCertificate(0, 0, 1, ENTRY_A.digest, (), three)
    assert VERIFIER.commit_certificate_problem(short) == "3 signers, 4 needed"
    slow = (*three, ok("n3", ENTRY_A, fast=False))
    not_fast = CommitCertificate(0, 0, 1, ENTRY_A.digest, (), slow)
    assert "fast path" in str(VERIFIER.commit_certificate_problem(not_fast))


def test_commit_certificate_needs_quorum_of_commit_votes() -> None:
    votes = tuple(commit(m, ENTRY_A) for m in ["n0", "n1", "n2"])
    assert (
        VERIFIER.commit_certificate_problem(CommitCertificate(0, 0, 1, ENTRY_A.digest, votes, ()))
        is None
    )
    mixed = CommitCertificate(0, 0, 1, ENTRY_A.digest, votes[:2], (ok("n3", ENTRY_A),))
    assert "mixes" in str(VERIFIER.commit_certificate_problem(mixed))


def test_decided_entry_must_match_its_certificate() -> None:
    votes = tuple(commit(m, ENTRY_A) for m in ["n0", "n1", "n2"])
    cert = CommitCertificate(0, 0, 1, ENTRY_A.digest, votes, ())
    assert VERIFIER.decided_problem(Decided(ENTRY_A, cert)) is None
    assert VERIFIER.decided_problem(Decided(ENTRY_B, cert)) is not None
    assert VERIFIER.decided_problem(Decided(ENTRY_A, None)) is not None
    assert VERIFIER.decided_problem(GENESIS) is None


def reject(member: str, ballot: tuple[int, int] = (0, 0)) -> PrepareReject:
    message = PrepareReject(CLUSTER, member, *ballot, 1, ENTRY_A.digest, "veto", "no")
    return sign_message(SIGNERS[member], message)


def abort(rejects: tuple[PrepareReject, ...], sender: str = "n0") -> Abort:
    message = Abort(CLUSTER, sender, 0, 0, 1, ENTRY_A.digest, "r", "n0", "why", rejects)
    return sign_message(SIGNERS[sender], message)


def test_abort_is_definitive_only_with_f_rejects_from_others() -> None:
    assert VERIFIER.abort_is_definitive(abort((reject("n1"),)))
    assert not VERIFIER.abort_is_definitive(abort(()))
    assert not VERIFIER.abort_is_definitive(abort((reject("n0"),)))  # the coordinator itself
    assert not VERIFIER.abort_is_definitive(abort((reject("n1", (0, 1)),)))
    assert not VERIFIER.abort_is_definitive(abort((reject("n1"),), sender="n1"))


# ---------------------------------------------------------------- selection


def report(
    member: str,
    target: tuple[int, int] = (1, 0),
    lock: PrepareCertificate | None = None,
    lock_entry: Entry | None = None,
    vote: tuple[tuple[int, int], Entry] | None = None,
    fast: bool = True,
    head: Decided = GENESIS,
) -> ViewChange:
    message = ViewChange(
        CLUSTER,
        member,
        *target,
        head.entry.revision + 1,
        head,
        lock,
        lock_entry,
        vote[0][0] if vote else -1,
        vote[0][1] if vote else -1,
        fast if vote else False,
        vote[1] if vote else None,
    )
    return sign_message(SIGNERS[member], message)


def test_selection_is_free_without_locks_or_votes() -> None:
    reports = tuple(report(m) for m in ["n0", "n1", "n2"])
    assert reports_problem(VERIFIER, reports, (1, 0), 1) is None
    assert select(reports, 1, 1).kind == "free"


def test_selection_forces_the_highest_lock() -> None:
    low = prepare_cert(["n0", "n1", "n2"], ENTRY_B, (0, 0))
    high = prepare_cert(["n0", "n1", "n2"], ENTRY_A, (0, 1))
    reports = (
        report("n0", lock=low, lock_entry=ENTRY_B),
        report("n1", lock=high, lock_entry=ENTRY_A),
        report("n2"),
    )
    assert reports_problem(VERIFIER, reports, (1, 0), 1) is None
    selection = select(reports, 1, 1)
    assert (selection.kind, selection.entry, selection.basis) == ("forced", ENTRY_A, (0, 1))


def test_selection_forces_a_possible_fast_decision() -> None:
    lock = prepare_cert(["n0", "n1", "n2"], ENTRY_B, (0, 0))
    reports = (
        report("n0", lock=lock, lock_entry=ENTRY_B),
        report("n1", vote=((0, 1), ENTRY_A)),
        report("n2", vote=((0, 1), ENTRY_A)),
        report("n3", vote=((0, 1), ENTRY_A)),
    )
    selection = select(reports, 1, 1)
    assert (selection.kind, selection.entry) == ("forced", ENTRY_A)
    # with k reports, k - f votes are needed: among 3 reports one vote is not enough
    assert select((reports[0], reports[1], report("n2")), 1, 1).entry == ENTRY_B
    # votes at or below the lock's ballot do not count
    old_votes = tuple(report(m, vote=((0, 0), ENTRY_A)) for m in ["n1", "n2", "n3"])
    assert select((reports[0], *old_votes), 1, 1).entry == ENTRY_B


def test_standard_votes_never_force() -> None:
    reports = tuple(report(m, vote=((0, 0), ENTRY_A), fast=False) for m in ["n1", "n2", "n3"])
    assert select(reports, 1, 1).kind == "free"


def test_selection_is_stale_when_a_report_is_ahead() -> None:
    votes = tuple(commit(m, ENTRY_A) for m in ["n0", "n1", "n2"])
    decided = Decided(ENTRY_A, CommitCertificate(0, 0, 1, ENTRY_A.digest, votes, ()))
    reports = (report("n0", head=decided), report("n1"), report("n2"))
    assert reports_problem(VERIFIER, reports, (1, 0), 1) is None
    assert select(reports, 1, 1).kind == "stale"
    assert select(reports, 2, 1).kind == "free"


@pytest.mark.parametrize(
    "bad, reason",
    [
        (lambda: (report("n0"), report("n1")), "2 reports, 3 needed"),
        (lambda: (report("n0"), report("n1"), report("n1")), "two reports from one member"),
        (lambda: (report("n0"), report("n1"), report("n2", target=(2, 0))), "for ballot"),
        (
            lambda: (
                report("n0", lock=prepare_cert(["n0", "n1"]), lock_entry=ENTRY_A),
                report("n1"),
                report("n2"),
            ),
            "2 signers, 3 needed",
        ),
        (
            lambda: (
                report("n0", lock=prepare_cert(["n0", "n1", "n2"]), lock_entry=ENTRY_B),
                report("n1"),
                report("n2"),
            ),
            "lock entry does not match",
        ),
        (
            lambda: (report("n0", vote=((1, 0), ENTRY_A)), report("n1"), report("n2")),
            "vote is not below the ballot",
        ),
    ],
)
def test_bad_reports_are_refused(bad, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert reason in str(reports_problem(VERIFIER, bad(), (1, 0), 1))


def test_a_re_ballot_needs_reports_of_its_own_revision() -> None:
    """Attempts restart with every revision: reports for (v, a > 0) gathered at revision 1
    say nothing about the votes of revision 2, so they cannot justify (v, a) there; the
    view's reports for (v, 0) keep justifying its later revisions."""
    rebalot = tuple(report(m, target=(1, 1)) for m in ["n0", "n1", "n2"])
    assert {r.revision for r in rebalot} == {1}
    assert reports_problem(VERIFIER, rebalot, (1, 1), 1) is None
    problem = reports_problem(VERIFIER, rebalot, (1, 1), 2)
    assert problem is not None and "needs reports of that revision" in problem
    view = tuple(report(m, target=(1, 0)) for m in ["n0", "n1", "n2"])
    assert reports_problem(VERIFIER, view, (1, 0), 2) is None
