"""A REFUSE never tells an origin "nothing applied" for a request that commits.

The node answers a `stale` refusal by catching up and building the change again
under a new request id (manager._on_current_head), and a `busy` one by telling its
client to retry: either way one client request becomes two revisions if the
refused request commits after all.
"""

from __future__ import annotations

from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import (
    FetchReply,
    Finalize,
    Forward,
    Message,
    Status,
)


def test_a_committed_request_is_not_refused_as_stale_to_an_origin_that_missed_its_commit() -> None:
    """n2 forwards x; n0 commits it as revision 1 but n2 misses the FINALIZE (and the
    catch-up). At its forward deadline n2 broadcasts x; n1 and n3, already at revision
    1, hold it, so they change view; n1, coordinating view 1, proposes its held x at
    revision 2, finds it stale and refuses it to n2 as stale: n2 reports "stale,
    nothing applied" for a request that committed. Later n2 catches up and reports
    the commit too."""
    h = Harness(make_params(4, view_change_timeout_ms=3000))
    cut = {"on": True}

    def drop(sender: str, to: str, message: Message) -> bool:
        return cut["on"] and to == "n2" and isinstance(message, Finalize | FetchReply | Status)

    h.drop = drop
    h.propose("n2", "x", b"doc-x")
    h.run()
    assert {m: r.head_revision for m, r in h.replicas.items()} == {
        "n0": 1, "n1": 1, "n2": 0, "n3": 1}
    h.settle(rounds=80, step_ms=100)  # forward deadline, then a view change
    cut["on"] = False
    h.settle(rounds=40, step_ms=100)
    h.check_agreement()
    assert h.replicas["n2"].head_revision == 1
    assert h.disks["n2"].log[1].entry.request_id == "x"
    assert h.answers("n2", "x") == ["committed"]


def test_a_request_refused_as_busy_is_not_committed_afterwards_from_a_held_copy() -> None:
    """The lone-view broadcast: n0, alone in view 1, sends its request r2
    to every member at once. n3, coordinator of view 0, is busy with r1 and refuses r2
    as busy, which n0 takes (`_refusal_while_changing`): its client is told to retry.
    But n1 and n2 hold their copies of r2; r1 is then vetoed and aborted, the held
    copies keep n1 and n2 changing views, and a later coordinator proposes r2: it
    commits as revision 1 after its origin reported it refused."""
    h = Harness(make_params(4, coordinator_index=3, view_change_timeout_ms=3000))
    h.replicas["n0"].suspect_coordinator()
    h.collect("n0")
    h.run()
    assert (h.replicas["n0"].view, h.replicas["n0"].established) == (1, False)
    h.propose("n1", "r1", b"doc-1 veto:n2")  # n3 will propose it; n2's subscriber vetoes
    h.propose("n0", "r2", b"doc-2")  # to every member; n3 is busy with r1 by then
    h.settle(rounds=400, step_ms=100)
    h.check_agreement()
    outs = h.answers("n0", "r2")
    committed = [d.entry.request_id for d in h.disks["n1"].log[1:]]
    assert ("r2" in committed) == ("committed" in outs)
    assert not ("committed" in outs and any(o.startswith("refused") for o in outs)), (
        f"r2 was refused to its origin (its client told to retry), then committed: {outs}")


def test_a_request_whose_revision_another_update_took_is_answered_stale_at_once() -> None:
    """n2's FORWARD of x is lost; meanwhile y commits as revision 1, the revision x was
    made for. x can never commit now, so n2 answers it stale when it applies y (its
    node builds the change again on the new head) instead of waiting for x's outcome
    deadline."""
    h = Harness(make_params(4))
    h.drop = lambda sender, to, message: sender == "n2" and isinstance(message, Forward)
    h.propose("n2", "x", b"doc-x")
    h.propose("n1", "y", b"doc-y")
    h.run()
    assert {r.head_revision for r in h.replicas.values()} == {1}
    assert h.answers("n2", "x") == ["refused:stale"]
    assert h.answers("n1", "y") == ["committed"]
    h.drop = None
    h.settle(rounds=100)
    assert h.answers("n2", "x") == ["refused:stale"]  # and nothing else, ever
    h.check_agreement()
