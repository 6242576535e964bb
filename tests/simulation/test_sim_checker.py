"""The invariant checker judges certificates and histories by itself."""

from __future__ import annotations

import random

import pytest

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitVote,
    Decided,
    Entry,
    PrepareOk,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.sim.checker import InvariantChecker
from butterfly_config.consensus.sim.world import World, build_world, sim_hash, validation_error
from butterfly_config.consensus.state import EvidenceFound


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(random.Random(1), 4, 1)


def _checker(world: World) -> InvariantChecker:
    checker = InvariantChecker(
        cluster=world.params.cluster_name, members=world.members, quorum=world.params.quorum,
        keyring=world.keyring(), hash_fn=sim_hash, validate=validation_error,
        genesis=world.genesis.entry,
    )
    for member in world.members:
        checker.replica_started(member, world.genesis.entry)
    return checker


def _entry(world: World, document: bytes, parent: Entry | None = None) -> Entry:
    parent = parent or world.genesis.entry
    return make_entry(sim_hash, world.params.cluster_name, parent.revision + 1, parent.digest,
                      document, document.decode(), "n1")


def _vote(world: World, signer: str, entry: Entry, sender: str | None = None) -> CommitVote:
    vote = CommitVote(world.params.cluster_name, sender or signer, 0, 0, entry.revision,
                      entry.digest)
    return vote.with_signature(world.signers[signer].sign(vote.signing_bytes()))


def _cert(world: World, entry: Entry, votes: tuple[CommitVote, ...]) -> CommitCertificate:
    return CommitCertificate(0, 0, entry.revision, entry.digest, votes, ())


def test_a_valid_certificate_passes(world: World) -> None:
    entry = _entry(world, b"cfg-a")
    votes = tuple(_vote(world, m, entry) for m in ("n0", "n1", "n2"))
    assert _checker(world).certificate_problem(entry, _cert(world, entry, votes)) is None


@pytest.mark.parametrize(
    ("signers", "senders", "problem"),
    [
        (("n0", "n0", "n0"), None, "1 distinct signers, 3 needed"),
        (("n0", "n1"), None, "2 distinct signers, 3 needed"),
        (("n0", "n1", "n2"), ("n0", "n1", "n3"), "bad signature on the vote of n3"),
        (("n0", "n1", "n2"), ("n0", "n1", "intruder"), "non-member"),
    ],
)
def test_bogus_certificates_are_refused(
    world: World, signers: tuple[str, ...], senders: tuple[str, ...] | None, problem: str
) -> None:
    entry = _entry(world, b"cfg-a")
    names = senders or signers
    votes = tuple(_vote(world, s, entry, n) for s, n in zip(signers, names, strict=True))
    found = _checker(world).certificate_problem(entry, _cert(world, entry, votes))
    assert found is not None and problem in found


def test_fast_certificates_need_every_member_and_fast_votes(world: World) -> None:
    entry = _entry(world, b"cfg-a")
    checker = _checker(world)

    def ok(member: str, fast: bool) -> PrepareOk:
        vote = PrepareOk(world.params.cluster_name, member, 0, 0, 1, entry.digest, fast)
        return sign_message(world.signers[member], vote)

    full = tuple(ok(m, True) for m in world.members)
    complete = CommitCertificate(0, 0, 1, entry.digest, (), full)
    assert checker.certificate_problem(entry, complete) is None
    three = CommitCertificate(0, 0, 1, entry.digest, (), full[:3])
    assert "4 needed" in (checker.certificate_problem(entry, three) or "")
    slow = CommitCertificate(0, 0, 1, entry.digest, (), tuple(ok(m, False) for m in world.members))
    assert "non-fast" in (checker.certificate_problem(entry, slow) or "")


def _decided(world: World, entry: Entry) -> Decided:
    votes = tuple(_vote(world, m, entry) for m in ("n0", "n1", "n2"))
    return Decided(entry, _cert(world, entry, votes))


def test_two_honest_replicas_applying_different_entries_break_agreement(world: World) -> None:
    checker = _checker(world)
    a, b = _entry(world, b"cfg-a"), _entry(world, b"cfg-b")
    checker.client_proposed(b"cfg-a")
    checker.client_proposed(b"cfg-b")
    checker.applied("n1", _decided(world, a))
    assert checker.violations == []
    checker.applied("n2", _decided(world, b))
    assert [v.invariant for v in checker.violations] == ["agreement"]


def test_gaps_broken_chains_and_unproposed_or_invalid_documents(world: World) -> None:
    checker = _checker(world)
    first = _entry(world, b"cfg-a")
    checker.client_proposed(b"cfg-a")
    skipped = _entry(world, b"cfg-c", parent=first)
    checker.applied("n1", _decided(world, skipped))  # revision 2 before revision 1
    invalid = _entry(world, b"bad-doc")
    checker.client_proposed(b"bad-doc")
    checker.applied("n2", _decided(world, invalid))
    never = _entry(world, b"cfg-ghost")
    checker.applied("n3", _decided(world, never))
    kinds = [(v.node, v.invariant) for v in checker.violations]
    assert ("n1", "chain") in kinds
    assert ("n2", "integrity") in kinds  # invalid document
    assert ("n3", "integrity") in kinds  # never proposed by a client


def test_a_second_digest_for_one_ballot_is_a_double_vote(world: World) -> None:
    checker = _checker(world)
    a, b = _entry(world, b"cfg-a"), _entry(world, b"cfg-b")
    checker.signed("n1", _vote(world, "n1", a))
    checker.signed("n1", _vote(world, "n1", a))  # the same vote again is fine
    assert checker.violations == []
    checker.signed("n1", _vote(world, "n1", b))
    assert [v.invariant for v in checker.violations] == ["single-vote"]


def test_restarting_on_another_head_is_a_chain_violation(world: World) -> None:
    checker = _checker(world)
    entry = _entry(world, b"cfg-a")
    checker.client_proposed(b"cfg-a")
    checker.applied("n1", _decided(world, entry))
    checker.replica_started("n1", world.genesis.entry)  # lost its applied revision
    assert [v.invariant for v in checker.violations] == ["chain"]


def test_critical_evidence_against_an_honest_member_is_false_evidence(world: World) -> None:
    checker = _checker(world)
    checker.evidence_found("n2", EvidenceFound("n3", "unverifiable_veto", "vetoed: busy",
                                               critical=False),
                           accused_honest=True)  # a veto's small cost: honest members veto
    checker.evidence_found("n2", EvidenceFound("n1", "equivocation", "two digests"),
                           accused_honest=False)  # against a liar: as it should be
    assert checker.violations == []
    checker.evidence_found("n2", EvidenceFound("n0", "bad_justification",
                                               "NEW_VIEW with invalid reports"),
                           accused_honest=True)
    assert [v.invariant for v in checker.violations] == ["no false evidence"]
    assert "bad_justification against honest n0" in checker.violations[0].message


def test_an_honest_report_that_cannot_justify_its_ballot_is_a_violation(world: World) -> None:
    checker = InvariantChecker(
        cluster=world.params.cluster_name, members=world.members, quorum=world.params.quorum,
        keyring=world.keyring(), hash_fn=sim_hash, validate=validation_error,
        genesis=world.genesis.entry, params=world.params,
    )
    good = _report(world, "n1", voted_in=None)
    checker.signed("n1", good)
    checker.signed("n1", good)  # a broadcast: checked once
    assert checker.violations == []
    checker.signed("n2", _report(world, "n2", voted_in=(0, 1)))  # its vote is not below (0, 1)
    assert [v.invariant for v in checker.violations] == ["valid reports"]
    assert "cannot justify its ballot (0, 1)" in checker.violations[0].message


def _report(world: World, sender: str, voted_in: tuple[int, int] | None) -> ViewChange:
    vote = _entry(world, b"cfg-a") if voted_in is not None else None
    view, attempt = voted_in if voted_in is not None else (-1, -1)
    report = ViewChange(world.params.cluster_name, sender, 0, 1, 1, head=world.genesis,
                        lock=None, lock_entry=None, vote_view=view, vote_attempt=attempt,
                        vote_fast=True, vote_entry=vote)
    return sign_message(world.signers[sender], report)
