"""A member in a view change takes a REFUSE only from the coordinator of the view it
last saw established (`_refusal_while_changing`). A REFUSE names whatever view its
signer writes, and every member coordinates some view: taking one from "the
coordinator of the REFUSE's own view" let any single faulty member refuse the
requests of a member changing view, while the copies it sent to every member were
still agreed by the others (found by review; failed before the fix).
"""

from __future__ import annotations

from byzantine_driver import Cluster
from consensus_harness import make_params

from butterfly_config.consensus.messages import Forward, Refuse
from butterfly_config.consensus.state import ProposalCommitted, ProposalRefused


def test_a_member_that_coordinates_no_view_seen_cannot_refuse_a_lone_members_request() -> None:
    """n3 coordinates view 0 for n1 and n3; n0 is alone in view 1; n2 is faulty.
    n0's request goes to every member; n2 answers with a REFUSE signed for view 3,
    which it coordinates (nobody ever reached view 3). n0 takes it and reports
    "stale, nothing applied" (its node then builds the change again under a new
    request id), while n1 and n3 hold the request and get it committed."""
    h = Cluster(make_params(4, coordinator_index=3, view_change_timeout_ms=3000), {"n2"})
    h.replicas["n0"].suspect_coordinator()
    h.collect("n0")
    h.run()
    h.inbox["n2"].clear()
    assert (h.replicas["n0"].view, h.replicas["n0"].established) == (1, False)
    assert h.params.coordinator_of(3) == "n2"
    h.propose("n0", "r1", b"doc-1")
    forwards = h.take("n2", Forward)
    assert forwards and forwards[0].request_id == "r1"
    refuse = h.sign("n2", Refuse(h.params.cluster_name, "n2", 3, 0, 1, "r1", "stale",
                                 "made against revision 0, coordinator at revision 1"))
    h.step("n0", refuse)
    h.settle(rounds=300, step_ms=100)
    h.check_agreement()
    outs = [("committed" if isinstance(e, ProposalCommitted) else f"refused:{e.kind}")
            for e in h.events["n0"]
            if isinstance(e, ProposalCommitted | ProposalRefused) and e.request_id == "r1"]
    committed = [d.entry.request_id for d in h.disks["n1"].log[1:]]
    assert committed == ["r1"]  # the honest members did agree on it
    assert outs == ["committed"], f"n0 was told {outs} for a request that committed"
