"""A re-ballot (v, a > 0) of one revision cannot be justified by another revision's reports.

Attempts restart with every revision, so the reports that justified (v, a) at
revision r also name ballot (v, a) at r + 1. Found by review: a coordinator that
kept them could re-open a revision already decided on the fast path, and two
honest members applied different entries (the simulator's `stale_reports`
strategy now mounts this attack at random).
"""

from __future__ import annotations

from byzantine_driver import Cluster
from consensus_harness import make_params

from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitRequest,
    CommitVote,
    Entry,
    PrepareCertificate,
    PrepareOk,
    ViewChange,
)


def _reports_for_attempt_1_at_revision_1(c: Cluster) -> tuple[ViewChange, ...]:
    """Revision 1 in view 0: an abort at (0, 0), reports for (0, 1), a commit at (0, 1).

    Everything n0 does here is what an honest coordinator does after a prepare
    timeout; it only keeps the (0, 1) reports it was sent.
    """
    e1 = c.entry(1, c.replicas["n1"].head.entry.digest, b"doc-1", "r1")
    c.propose_as("n0", (0, 0), e1)
    assert len(c.take("n0", PrepareOk)) == 3
    c.send_all(c.abort("n0", (0, 0), e1))
    reports = tuple(sorted(c.take("n0", ViewChange), key=lambda r: r.sender))
    assert len(reports) == 3 and {r.ballot for r in reports} == {(0, 1)}
    assert {r.revision for r in reports} == {1}
    c.propose_as("n0", (0, 1), e1, justification=reports)
    oks = c.take("n0", PrepareOk)
    assert len(oks) == 3
    oks.append(c.own_ok("n0", (0, 1), e1, True))
    cert = c.fast_certificate((0, 1), e1, oks)
    c.send_all(c.finalize("n0", e1, cert))
    assert {r.head_revision for r in c.replicas.values()} == {1}
    assert {r.ballot for r in c.replicas.values()} == {(0, 0)}
    return reports


def test_stale_reports_of_an_earlier_revision_cannot_reopen_a_fast_decided_revision() -> None:
    """Reports for ballot (v, a>0) gathered at revision r-1 must not justify (v, a) at r.

    With one Byzantine member (the coordinator n0 of view 0, n = 4, f = 1):
    revision 2 is decided on the fast path at (0, 0) for d (n0 holds all n fast
    PREPARE_OKs), then n0 proposes d' at (0, 1) for revision 2 with the (0, 1)
    reports of revision 1. Every report is "behind", so the selection is free;
    nobody is locked (fast path), so every honest member votes for d' as well,
    and n0 holds a second fast certificate for revision 2. Two honest members
    then apply different entries for revision 2.
    """
    c = Cluster(make_params(4, protocol="optimistic_pbft"), byzantine={"n0"})
    stale_reports = _reports_for_attempt_1_at_revision_1(c)

    head = c.replicas["n1"].head.entry.digest
    d = c.entry(2, head, b"doc-2-d", "r2")
    d_other = c.entry(2, head, b"doc-2-other", "r3")
    c.propose_as("n0", (0, 0), d)
    oks_d = [*c.take("n0", PrepareOk), c.own_ok("n0", (0, 0), d, True)]
    assert len(oks_d) == 4  # a fast certificate for d at (0, 0): revision 2 is decided
    cert_d = c.fast_certificate((0, 0), d, oks_d)

    c.propose_as("n0", (0, 1), d_other, justification=stale_reports)
    oks_other = [*c.take("n0", PrepareOk), c.own_ok("n0", (0, 1), d_other, True)]
    # safety: no honest member may sign PREPARE_OK for another entry once d is fast-decided
    honest_oks_for_other = sorted(v.sender for v in oks_other if v.sender != "n0")
    if len(oks_other) == 4:
        cert_other = c.fast_certificate((0, 1), d_other, oks_other)
        c.step("n1", c.finalize("n0", d, cert_d))
        c.step("n2", c.finalize("n0", d_other, cert_other))
        assert c.replicas["n1"].head.entry.digest == c.replicas["n2"].head.entry.digest, (
            "two honest members applied different entries for revision 2"
        )
    assert honest_oks_for_other == [], (
        f"honest members {honest_oks_for_other} voted for a second entry of revision 2 "
        "on reports gathered at revision 1"
    )


def test_locks_keep_a_commit_decided_revision_even_against_stale_reports() -> None:
    """The same schedule in standard_pbft: revision 2 is decided at (0, 0) by a commit
    certificate (n1 and n2 locked, n0's own vote), then n0 proposes another entry at
    (0, 1) on the (0, 1) reports of revision 1. The locked members refuse it, so the
    second entry cannot reach a prepare certificate (q = 3)."""
    c = Cluster(make_params(4, protocol="standard_pbft"), byzantine={"n0"})

    def commit(ballot: tuple[int, int], entry: Entry, to: list[str]) -> list[CommitVote]:
        oks = [*c.take("n0", PrepareOk), c.own_ok("n0", ballot, entry, False)]
        assert len(oks) >= 3
        cert = PrepareCertificate(ballot[0], ballot[1], entry.revision, entry.digest,
                                  tuple(sorted(oks, key=lambda v: v.sender)))
        request = c.sign("n0", CommitRequest(c.params.cluster_name, "n0", ballot[0], ballot[1],
                                             entry.revision, cert, entry))
        c.send_all(request, to)
        return c.take("n0", CommitVote)  # type: ignore[return-value]

    e1 = c.entry(1, c.replicas["n1"].head.entry.digest, b"doc-1", "r1")
    c.propose_as("n0", (0, 0), e1)
    assert len(c.take("n0", PrepareOk)) == 3
    c.send_all(c.abort("n0", (0, 0), e1))
    stale_reports = tuple(sorted(c.take("n0", ViewChange), key=lambda r: r.sender))
    assert len(stale_reports) == 3
    c.propose_as("n0", (0, 1), e1, justification=stale_reports)
    votes = commit((0, 1), e1, c.honest)
    own = c.sign("n0", CommitVote(c.params.cluster_name, "n0", 0, 1, 1, e1.digest))
    cert1 = CommitCertificate(0, 1, 1, e1.digest, tuple(sorted([*votes, own],
                                                               key=lambda v: v.sender)), ())
    c.send_all(c.finalize("n0", e1, cert1))
    assert {r.head_revision for r in c.replicas.values()} == {1}

    head = c.replicas["n1"].head.entry.digest
    d = c.entry(2, head, b"doc-2-d", "r2")
    d_other = c.entry(2, head, b"doc-2-other", "r3")
    c.propose_as("n0", (0, 0), d)
    votes = commit((0, 0), d, ["n1", "n2"])
    assert sorted(v.sender for v in votes) == ["n1", "n2"]  # with n0's: a commit certificate
    c.propose_as("n0", (0, 1), d_other, justification=stale_reports)
    oks_other = c.take("n0", PrepareOk)
    assert {v.sender for v in oks_other} <= {"n3"}  # only the unlocked member may vote
    assert len(oks_other) + 1 < c.params.quorum  # no prepare certificate for d_other
