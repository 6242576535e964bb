"""Normal operation: PROPOSE -> PREPARE -> (COMMIT) -> FINALIZE on a calm network."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import (
    CommitRequest,
    CommitVote,
    Finalize,
    PrepareOk,
    Propose,
)
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.state import (
    ProposalCommitted,
    ProposalRefused,
)


def kinds(h: Harness) -> Counter[str]:
    return Counter(type(m).__name__ for _, _, m in h.sent)


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
def test_four_replicas_commit_one_update(protocol: str) -> None:
    h = Harness(make_params(4, protocol=protocol))
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert {rev for rev, _ in h.heads().values()} == {1}
    assert len(set(h.heads().values())) == 1
    assert all(h.applied[m][0].entry.document == b"doc-1" for m in h.replicas)
    assert h.events_of("n0", ProposalCommitted) == [
        ProposalCommitted("r1", 1, h.replicas["n0"].head.entry.digest)
    ]
    sent = kinds(h)
    assert sent["Propose"] == 3 and sent["PrepareOk"] == 3 and sent["Finalize"] == 3
    if protocol == "standard_pbft":
        assert sent["CommitRequest"] == 3 and sent["CommitVote"] == 3
        assert not h.replicas["n1"].head.certificate.fast  # type: ignore[union-attr]
    else:
        assert sent["CommitRequest"] == 0 and sent["CommitVote"] == 0
        assert h.replicas["n1"].head.certificate.fast  # type: ignore[union-attr]
    h.check_agreement()


def test_every_message_is_signed_and_authentic() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.propose("n0", "r1", b"doc-1")
    h.run()
    ring = h.replicas["n0"]._keyring
    for sender, _, message in h.sent:
        assert message.sender == sender
        assert ring.verify_message(message)


def test_non_coordinator_forwards_and_hears_the_outcome() -> None:
    h = Harness(make_params(4))
    h.propose("n2", "r1", b"doc-1")
    h.run()
    assert [(s, t) for s, t, m in h.sent if type(m).__name__ == "Forward"] == [("n2", "n0")]
    assert [e.request_id for e in h.events_of("n2", ProposalCommitted)] == ["r1"]
    assert h.events_of("n0", ProposalCommitted) == []
    entry = h.replicas["n3"].head.entry
    assert (entry.origin, entry.initiator, entry.request_id) == ("n2", "tester", "r1")


def test_revisions_form_a_hash_chain() -> None:
    h = Harness(make_params(4))
    for i in range(1, 6):
        h.propose(f"n{i % 4}", f"r{i}", f"doc-{i}".encode())
        h.run()
    log = h.disks["n3"].log
    assert [d.entry.revision for d in log] == [0, 1, 2, 3, 4, 5]
    for parent, child in itertools.pairwise(log):
        assert child.entry.parent_digest == parent.entry.digest
    h.check_agreement()


def test_second_proposal_while_one_is_in_flight_is_busy() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc-1")
    h.propose("n0", "r2", b"doc-2")
    assert h.events_of("n0", ProposalRefused) == [
        ProposalRefused("r2", "busy", "another configuration update is in progress")
    ]
    h.propose("n1", "r3", b"doc-3")
    h.run()
    assert [e.kind for e in h.events_of("n1", ProposalRefused)] == ["busy"]
    assert h.replicas["n1"].head_revision == 1


def test_invalid_document_is_refused_without_a_round() -> None:
    h = Harness(make_params(4))
    h.propose("n1", "r1", b"invalid doc")
    h.run()
    refused = h.events_of("n1", ProposalRefused)
    assert [(e.kind, e.reason) for e in refused] == [("invalid", "document is invalid")]
    assert not [m for _, _, m in h.sent if isinstance(m, Propose)]
    assert h.replicas["n0"].head_revision == 0


def test_a_coordinator_s_own_veto_is_refused_as_a_veto_without_a_round() -> None:
    h = Harness(make_params(4))
    h.propose("n2", "r1", b"doc veto:n0")  # forwarded to n0, whose subscriber refuses it
    h.run()
    refused = h.events_of("n2", ProposalRefused)
    assert [(e.kind, e.reason) for e in refused] == [("veto", "subscriber on n0 refuses")]
    assert not [m for _, _, m in h.sent if isinstance(m, Propose)]
    assert {rev for rev, _ in h.heads().values()} == {0}


def test_standalone_single_member_commits_alone() -> None:
    for protocol in ("standard_pbft", "optimistic_pbft"):
        h = Harness(make_params(1, f=0, protocol=protocol))
        h.propose("n0", "r1", b"doc-1")
        h.run()
        assert h.replicas["n0"].head_revision == 1
        assert not h.sent


def test_seven_members_with_two_faults_commit() -> None:
    h = Harness(make_params(7))
    assert (h.params.f, h.params.quorum) == (2, 5)
    h.propose("n5", "r1", b"doc-1")
    h.run()
    assert {rev for rev, _ in h.heads().values()} == {1}


def test_standard_mode_waits_for_all_answers_or_the_prepare_timeout() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.crash("n3")
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert not [m for _, _, m in h.sent if isinstance(m, CommitRequest)]
    h.tick(h.params.prepare_timeout_ms)
    h.run()
    assert h.replicas["n0"].head_revision == 1
    assert h.replicas["n0"].head.certificate.commit_votes  # type: ignore[union-attr]


def test_optimistic_mode_falls_back_to_the_commit_round_without_n_votes() -> None:
    h = Harness(make_params(4, protocol="optimistic_pbft"))
    h.crash("n2")
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert h.replicas["n0"].head_revision == 0
    h.tick(h.params.prepare_timeout_ms)
    h.run()
    cert = h.replicas["n1"].head.certificate
    assert cert is not None and not cert.fast and len(cert.commit_votes) == 3


@pytest.mark.parametrize("protocol", ["optimistic_pbft", "standard_pbft"])
def test_a_member_known_down_is_not_waited_for(protocol: str) -> None:
    h = Harness(make_params(4, protocol=protocol))
    h.crash("n2")
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert h.replicas["n0"].head_revision == 0  # still waiting for n2's answer
    h.replicas["n0"].set_unresponsive({"n2"})
    h.collect("n0")
    h.run()
    assert h.replicas["n0"].head_revision == 1  # no prepare timeout spent
    cert = h.replicas["n1"].head.certificate
    assert cert is not None and not cert.fast and len(cert.commit_votes) == 3


def test_suspecting_a_member_that_did_answer_changes_nothing() -> None:
    h = Harness(make_params(4, protocol="optimistic_pbft"))
    h.drop = lambda s, t, m: isinstance(m, PrepareOk) and s == "n3"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    h.replicas["n0"].set_unresponsive({"n1", "n0"})  # n3 is the silent one; n0 is itself
    h.collect("n0")
    h.run()
    assert h.replicas["n0"].head_revision == 0
    h.replicas["n0"].set_unresponsive({"n3"})
    h.collect("n0")
    h.run()
    assert h.replicas["n0"].head_revision == 1


def test_fast_path_needs_all_n_matching_votes() -> None:
    h = Harness(make_params(4, protocol="optimistic_pbft"))
    h.drop = lambda s, t, m: isinstance(m, PrepareOk) and s == "n3"
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert not [m for _, _, m in h.sent if isinstance(m, Finalize)]
    h.tick(h.params.prepare_timeout_ms)
    h.run()
    assert [m for _, _, m in h.sent if isinstance(m, CommitVote)]
    assert h.replicas["n0"].head_revision == 1


@pytest.mark.parametrize("origin", ["n0", "n2"])
def test_prepare_votes_go_to_the_coordinator_only(origin: str) -> None:
    """Nobody but the coordinator may hold all n fast votes of a ballot.

    Sending them to the origin as well would save it a message delay (it could
    commit on its own fast certificate before FINALIZE), but a definitive ABORT
    (f signed rejects) tells members that the ballot has no fast certificate,
    which holds only because an honest coordinator never both aborts and
    finalizes. With the votes at the origin, f members voting OK to it and
    rejecting to the coordinator would make a certificate the coordinator never
    saw, and the next ballot could then decide another entry at that revision.
    """
    h = Harness(make_params(4, protocol="optimistic_pbft"))
    h.propose(origin, "r1", b"doc-1")
    h.run()
    assert {t for _, t, m in h.sent if isinstance(m, PrepareOk)} == {"n0"}
    assert all(h.replicas[m].head_revision == 1 for m in ("n0", "n1", "n2", "n3"))


def test_params_validate_quorum_math() -> None:
    assert make_params(4).quorum == 3
    assert make_params(10, f=3).quorum == 7
    assert make_params(5, f=1).quorum == 4
    with pytest.raises(ValueError, match="n >= 3f\\+1"):
        make_params(3, f=1)
    with pytest.raises(ValueError, match="coordinator_index"):
        make_params(4, coordinator_index=4)


def test_coordinator_follows_coordinator_index_and_view() -> None:
    params = make_params(4, coordinator_index=2)
    assert [params.coordinator_of(v) for v in range(5)] == ["n2", "n3", "n0", "n1", "n2"]
    h = Harness(params)
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert [t for _, t, m in h.sent if type(m).__name__ == "Forward"] == ["n2"]


def test_params_can_change_live_but_membership_cannot() -> None:
    h = Harness(make_params(4, protocol="standard_pbft"))
    h.set_params(protocol="optimistic_pbft", prepare_timeout_ms=500, timeout_multiplier=2.0)
    h.propose("n0", "r1", b"doc-1")
    h.run()
    assert h.replicas["n2"].head.certificate.fast  # type: ignore[union-attr]
    other: ConsensusParams = make_params(7)
    with pytest.raises(ValueError, match="cannot change at runtime"):
        h.replicas["n0"].set_params(other)


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
def test_cluster_signing_with_ecdsa_p256_commits(protocol: str) -> None:
    h = Harness(make_params(4, protocol=protocol, signing_algorithm="ecdsa_p256"))
    h.propose("n3", "r1", b"doc-1")
    h.run()
    assert {rev for rev, _ in h.heads().values()} == {1}
    assert h.replicas["n0"]._keyring.algorithm == "ecdsa_p256"
