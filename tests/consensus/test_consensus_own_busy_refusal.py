"""A coordinator refusing its own request as busy holds the refusal back too while
the other members hold copies of it (found by review: only a REFUSE from another
member was held back; the coordinator's own refusal was final at once).

Schedule (standard_pbft, n = 4, f = 1, n0 faulty coordinator of view 0):
- n0 proposes e at (0, 0); n1, n2, n3 answer OK; n0 sends its COMMIT (prepare
  certificate) to n3 only: n3 alone is locked on e.
- n1 (coordinator of view 1) enters the view change and proposes r there: r goes to
  every member (`_send_to_all`), and n2, n3 hold copies.
- n1 establishes view 1 on reports n1, n2, n3: n3's lock forces e, so `_try_start`
  refuses the queued own request r as "busy" through `_refuse`: final, to its origin.
- e's PROPOSE at (1, 0) is lost; view 2 (n2) is established on reports n0, n1, n2 (n0
  reports no lock, n3's report is late): free, so n2 proposes its held copy of r, and
  r commits as revision 1 -- after its origin told its client "busy, nothing applied".
"""

from __future__ import annotations

from byzantine_driver import Cluster
from consensus_harness import genesis, hash_fn, make_params

from butterfly_config.consensus.messages import (
    CommitRequest,
    CommitVote,
    Forward,
    Message,
    PrepareCertificate,
    PrepareOk,
    Propose,
    ViewChange,
    make_entry,
)


def test_a_coordinators_own_broadcast_request_is_not_refused_busy_while_copies_are_out() -> None:
    params = make_params(4, protocol="standard_pbft", view_change_timeout_ms=60_000)
    h = Cluster(params, {"n0"})
    cluster = params.cluster_name
    g = genesis()
    e = make_entry(hash_fn, cluster, 1, g.entry.digest, b"doc-e", "e", "n0", "t")

    # view 0: n0 proposes e; n1..n3 vote OK; only n3 gets the COMMIT (and locks)
    h.propose_as("n0", (0, 0), e)
    h.run()
    oks = [m for m in h.take("n0", PrepareOk) if m.digest == e.digest]
    assert {m.sender for m in oks} == {"n1", "n2", "n3"}
    own = h.own_ok("n0", (0, 0), e, fast=False)
    votes = tuple(sorted([own, *oks[:2]], key=lambda v: v.sender))
    cert = PrepareCertificate(0, 0, 1, e.digest, votes)
    commit = h.sign("n0", CommitRequest(cluster, "n0", 0, 0, 1, cert, e))
    h.step("n3", commit)
    h.run()
    assert h.replicas["n3"]._lock is not None

    # view 1: n1 changes view and proposes r there (sent to every member)
    for m in ("n1", "n2", "n3"):
        h.replicas[m].suspect_coordinator()
        h.collect(m)
    h.propose("n1", "r", b"doc-r")
    h.take("n0", Forward)
    lost = {"propose_v1": True, "n3_to_n2": False}

    def drop(sender: str, to: str, message: Message) -> bool:
        if lost["propose_v1"] and sender == "n1" and isinstance(message, Propose):
            return True
        return lost["n3_to_n2"] and sender == "n3" and to == "n2"

    h.drop = drop
    h.run()
    assert h.replicas["n2"]._held_request is not None
    assert h.replicas["n2"]._held_request.request_id == "r"
    h.tick(params.pre_prepare_timeout_ms + 1)
    h.run()
    assert h.replicas["n1"].established and h.replicas["n1"].view == 1
    told_first = h.answers("n1", "r")

    # view 2: n2 coordinates; reports n0 (no lock), n1, n2; n3's is late
    lost["n3_to_n2"] = True
    h.replicas["n2"].suspect_coordinator()
    h.collect("n2")
    h.inbox["n0"].clear()
    vc = h.sign("n0", ViewChange(cluster, "n0", 2, 0, 1, g, None, None, -1, -1, False, None))
    h.step("n1", vc)
    h.step("n2", vc)
    h.run()
    h.tick(params.pre_prepare_timeout_ms + 1)
    h.run()
    proposes = [m for m in h.take("n0", Propose) if m.view == 2]
    if proposes:  # n0 plays along: OK, then commit vote
        entry = proposes[0].entry
        h.step("n2", h.own_ok("n0", (2, 0), entry, fast=False))
        h.run()
        h.tick(params.prepare_timeout_ms + 1)
        h.run()
        for request in h.take("n0", CommitRequest):
            if request.view == 2:
                vote = h.sign("n0", CommitVote(cluster, "n0", 2, 0, 1, request.entry.digest))
                h.step("n2", vote)
        h.run()
    lost["n3_to_n2"] = False
    h.drop = None
    h.settle(rounds=20)
    h.check_agreement()
    outs = h.answers("n1", "r")
    committed = [d.entry.request_id for d in h.disks["n2"].log[1:]]
    assert told_first == [] or "r" not in committed, (
        f"n1 told its client {told_first} for r, which then committed (log {committed}, "
        f"all outcomes {outs})")
