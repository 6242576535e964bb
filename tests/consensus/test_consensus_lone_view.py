"""A member alone in a higher view that the others never joined still serves clients.

It has promised not to vote below its view, so it stays out of the others'
ballots until they move; but a client's request at it must reach the
coordinator the others follow, be agreed there, and reach the member again
with the FINALIZE it still applies. Before this was fixed the member queued
the request for the view it could not establish, ignored the real
coordinator's refusal, and then answered every later request "busy" for as
long as it stayed alone.
"""

from __future__ import annotations

from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import CommitVote, PrepareOk, PrepareReject
from butterfly_config.consensus.state import (
    ProposalAborted,
    ProposalCommitted,
    ProposalRefused,
)


def lone_member_in_view_1() -> Harness:
    """n3 coordinates view 0 for n1..n3; n0 has moved on to view 1 (which it would
    coordinate) on its own, so it can neither establish it nor vote in view 0."""
    h = Harness(make_params(4, coordinator_index=3))
    h.replicas["n0"].suspect_coordinator()
    h.collect("n0")
    h.run()
    assert (h.replicas["n0"].view, h.replicas["n0"].established) == (1, False)
    assert h.replicas["n0"].coordinator == "n0"
    assert {h.replicas[m].view for m in ("n1", "n2", "n3")} == {0}
    return h


def outcomes(h: Harness, member: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for event in h.events[member]:
        if isinstance(event, ProposalCommitted):
            found[event.request_id] = "committed"
        elif isinstance(event, ProposalRefused):
            found[event.request_id] = event.kind
    return found


def test_a_request_at_a_member_alone_in_a_higher_view_is_agreed_by_the_others() -> None:
    h = lone_member_in_view_1()
    h.propose("n0", "r1", b"doc-1")
    h.settle(rounds=60)
    assert outcomes(h, "n0") == {"r1": "committed"}
    assert {r.head_revision for r in h.replicas.values()} == {1}
    assert h.replicas["n0"].view == 1  # it kept its promise: still above view 0
    votes = [m for s, _, m in h.sent if s == "n0"
             and isinstance(m, PrepareOk | PrepareReject | CommitVote)]
    assert not votes
    h.check_agreement()


def test_a_busy_coordinator_does_not_leave_the_lone_member_busy_forever() -> None:
    """n3 is busy with r1 when the lone member's r2 arrives and refuses it as busy.
    The others hold copies of r2, so that refusal is final only once r1 takes
    revision 1, which r2 was made for; then the lone member answers busy, and its
    next request is agreed."""
    h = lone_member_in_view_1()
    h.propose("n1", "r1", b"doc-1")  # n3's round waits for n0's vote until its timeout
    h.run()
    h.propose("n0", "r2", b"doc-2")  # meanwhile: n3 is busy with r1
    h.run()
    assert outcomes(h, "n0") == {}  # not yet: copies of r2 are held elsewhere
    h.settle(rounds=60)
    assert {r.head_revision for r in h.replicas.values()} == {1}
    assert outcomes(h, "n0") == {"r2": "busy"}  # r1 took revision 1: r2 can never commit
    h.propose("n0", "r3", b"doc-3")
    h.settle(rounds=60)
    assert outcomes(h, "n0") == {"r2": "busy", "r3": "committed"}
    assert [d.entry.document for d in h.disks["n0"].log[1:]] == [b"doc-1", b"doc-3"]
    assert (h.replicas["n0"].view, h.replicas["n0"].established) == (1, False)
    assert not h.events_of("n0", ProposalAborted)
    h.check_agreement()
