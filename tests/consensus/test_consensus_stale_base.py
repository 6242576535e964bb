"""A request commits as the revision it was built for, or not at all.

Each request names the revision it means to become: one past the head its
document was built on. Without that, a member that had not yet applied the
latest commit (it missed the FINALIZE, or was cut off and is catching up) had
its whole document proposed on top of the newer head, and the options changed
in between were silently set back.
"""

from __future__ import annotations

from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import Fetch, Finalize, Forward
from butterfly_config.consensus.state import ProposalCommitted, ProposalRefused


def _commit_without(h: Harness, left_out: str, request_id: str, document: bytes) -> None:
    """Commit `document` through n0 while `left_out` hears nothing of it."""
    h.drop = lambda sender, to, message: left_out in (sender, to)
    h.propose("n0", request_id, document)
    h.settle(rounds=100)  # the coordinator waits out the prepare timeout for the silent one
    h.drop = None


def test_a_request_built_on_an_old_head_is_refused_as_stale() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    _commit_without(h, "n3", "r1", b"y=2")
    assert h.replicas["n0"].head_revision == 1 and h.replicas["n3"].head_revision == 0

    h.propose("n3", "r2", b"x=1 (built on revision 0)")  # forwarded to the coordinator
    h.run()

    [forward] = [m for _, _, m in h.sent_of(Forward) if m.request_id == "r2"]
    assert forward.revision == 1
    [refused] = h.events_of("n3", ProposalRefused)
    assert isinstance(refused, ProposalRefused)
    assert (refused.request_id, refused.kind) == ("r2", "stale")
    assert "made against revision 0" in refused.reason and "at revision 1" in refused.reason
    assert h.replicas["n0"].head_revision == 1  # nothing proposed over revision 1
    assert all(d.entry.document != b"x=1 (built on revision 0)"
               for disk in h.disks.values() for d in disk.log)
    h.check_agreement()


def test_the_same_change_commits_once_rebuilt_on_the_current_head() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    _commit_without(h, "n3", "r1", b"y=2")
    h.propose("n3", "r2", b"x=1 over revision 0")
    h.run()
    h.replicas["n3"].request_sync()  # catch up, as the node does after a stale refusal
    h.collect("n3")
    h.settle(rounds=5)
    assert h.replicas["n3"].head_revision == 1

    h.propose("n3", "r3", b"x=1, y=2 over revision 1")
    h.run()
    assert h.events_of("n3", ProposalCommitted)[-1].request_id == "r3"  # type: ignore[attr-defined]
    assert {head for head, _ in h.heads().values()} == {2}
    h.check_agreement()


def test_an_explicit_revision_is_kept_when_the_forward_is_sent_again() -> None:
    """A forward re-sent (broadcast after the coordinator stayed silent) still names
    the revision the request was built for, not the head at the time of sending."""
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.replicas["n1"].propose("r1", b"doc", initiator="tester", revision=1)
    h.collect("n1")
    h.drop = lambda sender, to, message: isinstance(message, Finalize)
    h.run()
    h.drop = lambda sender, to, message: True
    h.tick(60_000)
    forwards = [m for _, _, m in h.sent_of(Forward) if m.request_id == "r1"]
    assert forwards and {m.revision for m in forwards} == {1}


def test_a_coordinator_behind_the_origin_refuses_and_fetches_from_it() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    _commit_without(h, "n3", "r1", b"y=2")
    for member in ("n1", "n2"):
        assert h.replicas[member].head_revision == 1
    h.replicas["n3"].request_sync()
    h.collect("n3")
    h.run()
    assert h.replicas["n3"].head_revision == 1

    h.crash("n0")
    h.disks["n0"].log = h.disks["n0"].log[:1]  # n0 comes back having lost revision 1
    h.disks["n0"].hard_state = None
    h.restart("n0")
    assert h.replicas["n0"].head_revision == 0
    before = len(h.sent_of(Fetch))
    h.propose("n3", "r2", b"x=1 over revision 1")
    h.run()
    refused = [e for e in h.events_of("n3", ProposalRefused) if e.request_id == "r2"]  # type: ignore[attr-defined]
    fetched = [m for s, to, m in h.sent_of(Fetch)[before:] if s == "n0" and to == "n3"]
    assert h.replicas["n0"].coordinator == "n0"
    assert refused and refused[0].kind == "stale"  # type: ignore[attr-defined]
    assert fetched  # the coordinator asked the origin for the revision it lacks
    h.settle(rounds=5)
    assert h.replicas["n0"].head_revision == 1
    h.check_agreement()
