"""A coordinator that makes no progress loses its view, and the back-off lets views last.

Found by review (each failed before its fix): a coordinator that only repeated
its NEW_VIEW, or aborted every ballot with a reject it signed itself, kept its
view forever; and with a view-change timeout below the fast path's prepare
timeout, one crashed member livelocked the cluster because the back-off
restarted with every established view instead of with every commit.
Each attack runs beside a control (the same schedule without the trick).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from byzantine_driver import Cluster
from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import (
    Abort,
    Forward,
    NewView,
    PrepareReject,
    ViewChange,
)
from butterfly_config.consensus.state import ProposalAborted, ProposalCommitted, ProposalRefused

PARAMS = dict(view_change_timeout_ms=5000, max_view_change_attempts=3)


class RetryingClient:
    """A client of one member that proposes again whenever its request ends unapplied."""

    def __init__(self, c: Cluster, member: str, document: bytes) -> None:
        self.c, self.member, self.document = c, member, document
        self.sent = 0

    def poll(self) -> None:
        events = self.c.events[self.member]
        if any(isinstance(e, ProposalCommitted) for e in events):
            return
        ended = sum(1 for e in events if isinstance(e, ProposalAborted | ProposalRefused))
        if ended >= self.sent:
            self.sent = ended + 1
            self.c.replicas[self.member].propose(f"req-{ended}", self.document, initiator="t")
            self.c.collect(self.member)


def _abort_with(c: Cluster, ballot: tuple[int, int], reason: str, rejects=()) -> Abort:
    revision = c.replicas["n1"].head_revision + 1
    digest = rejects[0].digest if rejects else ""
    return c.sign(  # type: ignore[return-value]
        "n0",
        Abort(c.params.cluster_name, "n0", ballot[0], ballot[1], revision, digest, "", "",
              reason, tuple(rejects)),
    )


def _run_until_committed(c: Cluster, client: RetryingClient,
                         each_second: Callable[[], None]) -> None:
    """Up to two simulated minutes in 100 ms steps, the faulty n0 acting every second;
    then the honest members must have left view 0 and committed the client's request."""
    for step in range(1200):
        c.run()
        c.tick(100)
        if step % 10 == 0:
            each_second()
        client.poll()
        c.inbox["n0"].clear()
        if c.replicas["n1"].head_revision:
            break
    views = {m: r.view for m, r in c.replicas.items()}
    assert all(v >= 1 for v in views.values()), f"the honest members stayed in view 0: {views}"
    assert {r.head.entry.document for r in c.replicas.values()} == {client.document}


@pytest.mark.parametrize("repeat", [False, True], ids=["silent", "repeats-new-view"])
def test_a_silent_coordinator_cannot_keep_its_view_by_repeating_its_new_view(repeat: bool) -> None:
    """n0 (Byzantine coordinator of view 0) opens ballot (0, 1) properly, then only
    repeats that NEW_VIEW every second and never proposes. A client keeps asking
    n1. The honest members must move to another view and commit the request."""
    c = Cluster(make_params(4, **PARAMS), byzantine={"n0"})
    client = RetryingClient(c, "n1", b"doc-1")
    client.poll()
    assert c.take("n0", Forward)
    c.send_all(_abort_with(c, (0, 0), "the coordinator has no justification for its ballot"))
    reports = tuple(sorted(c.take("n0", ViewChange), key=lambda r: r.sender))
    assert len(reports) == 3
    new_view = c.sign("n0", NewView(c.params.cluster_name, "n0", 0, 1, 1, reports))
    c.send_all(new_view)

    def each_second() -> None:
        if repeat:
            c.send_all(new_view)

    _run_until_committed(c, client, each_second)


@pytest.mark.parametrize("own_reject", [False, True], ids=["no-reject", "own-reject"])
def test_an_abort_carrying_only_the_coordinators_own_reject_is_no_progress(
    own_reject: bool,
) -> None:
    """n0 (Byzantine coordinator of view 0) never proposes: it keeps aborting the
    current ballot with a PREPARE_REJECT it signed itself. That reject proves nothing
    (only another member's reject shows the coordinator is not the one stalling), so
    the honest members must move to another view and commit the client's request."""
    c = Cluster(make_params(4, **PARAMS), byzantine={"n0"})
    client = RetryingClient(c, "n1", b"doc-1")
    client.poll()
    ballot = [0, 0]

    def each_second() -> None:
        if max(r.view for r in c.replicas.values()) > 0:
            return
        revision = c.replicas["n1"].head_revision + 1
        reject = c.sign("n0", PrepareReject(c.params.cluster_name, "n0", ballot[0], ballot[1],
                                            revision, "x" * 64, "veto", "my subscriber refuses"))
        rejects = (reject,) if own_reject else ()
        c.send_all(_abort_with(c, (ballot[0], ballot[1]), "n0: my subscriber refuses", rejects))
        ballot[1] += 1

    _run_until_committed(c, client, each_second)


@pytest.mark.parametrize("view_change_timeout_ms", [10_000, 2_500, 2_000, 1_500])
def test_one_crashed_member_does_not_livelock_short_view_change_timeouts(
    view_change_timeout_ms: int,
) -> None:
    """Crash faults only: n3 is down for good, the network is perfect. The fast path
    then waits the prepare timeout (2 s) for n3 in every ballot, and a new view's
    coordinator waits pre_prepare_timeout (1 s) for n3's report. With a view-change
    timeout shorter than that, each view is abandoned before it can commit; the
    back-off (backoff_multiplier, max_view_change_attempts) is what must make the
    timeout grow until a view lasts long enough (docs/consensus.md, liveness)."""
    h = Harness(make_params(4, view_change_timeout_ms=view_change_timeout_ms))
    h.crash("n3")
    h.propose("n1", "r1", b"doc-1")
    for _ in range(3000):  # five simulated minutes
        h.run()
        h.tick(100)
        if all(h.replicas[m].head_revision for m in ("n0", "n1", "n2")):
            break
    views = {m: h.replicas[m].view for m in ("n0", "n1", "n2")}
    assert [e.request_id for e in h.events_of("n1", ProposalCommitted)] == ["r1"], (
        f"no commit after five minutes with one crashed member; views reached: {views}"
    )
    h.check_agreement()


@pytest.mark.parametrize("idle_view_changes", [0, 3, 7])
def test_view_changes_long_ago_do_not_keep_a_dead_coordinator_in_office(
    idle_view_changes: int,
) -> None:
    """The back-off restarts once an established view has nothing left to do, not only
    with a commit (found by review: commits are rare in a configuration cluster, and a
    back-off grown by a few earlier view changes outlasted every request's deadline,
    so a dead coordinator was never replaced and nothing committed in ten minutes)."""
    h = Harness(make_params(4))
    for _ in range(idle_view_changes):  # view changes, each established, no commit
        coordinator = h.replicas["n0"].coordinator
        view = h.replicas["n0"].view
        for member, replica in h.replicas.items():
            if member != coordinator:
                replica.suspect_coordinator()
                h.collect(member)
        h.settle(rounds=100)
        assert {r.view for r in h.replicas.values()} == {view + 1}
        assert all(r.established for r in h.replicas.values())
    assert {r.head_revision for r in h.replicas.values()} == {0}
    coordinator = h.replicas["n0"].coordinator
    h.crash(coordinator)
    origin = next(m for m in h.replicas if m != coordinator)
    h.propose(origin, "r1", b"doc-1")
    h.settle(rounds=600)  # one simulated minute
    assert [e.request_id for e in h.events_of(origin, ProposalCommitted)] == ["r1"]
    h.check_agreement()
