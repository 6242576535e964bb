"""A member restarted in the middle of a view change comes back `established` (soft
state): as the coordinator of the view it waited for, it then answers the reports for
that view with nothing (no reports to re-send a NEW_VIEW from). The others must still
get a view agreed and the pending request committed (they move past the view: q
members asked for it)."""

from __future__ import annotations

from consensus_harness import Harness, make_params

from butterfly_config.consensus.state import ProposalCommitted


def test_the_next_coordinator_restarted_during_the_view_change_does_not_stall_the_cluster() -> None:
    h = Harness(make_params(4, view_change_timeout_ms=3000))
    h.crash("n0")  # the coordinator of view 0 is down: the others change view
    h.propose("n2", "x", b"doc-x")
    h.run()
    for _ in range(60):  # until n1 (coordinator of view 1) has joined the view change
        h.tick(100)
        if h.replicas["n1"].view == 1:
            break
        h.run()
    assert h.replicas["n1"].view == 1 and not h.replicas["n1"].established
    h.crash("n1")
    h.restart("n1")
    assert h.replicas["n1"].view == 1
    h.settle(rounds=600, step_ms=100)
    h.check_agreement()
    assert [e.request_id for e in h.events_of("n2", ProposalCommitted)] == ["x"]
    assert {r.head_revision for r in h.replicas.values()} == {1}
