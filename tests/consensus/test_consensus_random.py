"""Seeded random schedules: loss, duplication, reordering, crashes, one Byzantine member.

A few seeds only (the simulator in consensus/sim runs the long campaigns);
agreement and the hash chain are checked after every step, convergence at
the end once the network is calm.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from consensus_harness import CLUSTER, Harness, hash_fn, make_params

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    Abort,
    CommitVote,
    Finalize,
    Message,
    PrepareOk,
    Propose,
    ViewChange,
    make_entry,
)


def assert_agreement(h: Harness, honest: set[str]) -> None:
    by_revision: dict[int, str] = {}
    for member in honest:
        log = h.disks[member].log
        for index, decided in enumerate(log):
            assert decided.entry.revision == index
            if index:
                assert decided.entry.parent_digest == log[index - 1].entry.digest
            seen = by_revision.setdefault(index, decided.entry.digest)
            assert seen == decided.entry.digest, f"disagreement at revision {index}"


def deliver_randomly(h: Harness, rnd: random.Random, loss: float, dup: float) -> None:
    index = rnd.randrange(len(h.network))
    h.network.rotate(-index)
    item = h.network[0]
    if rnd.random() < loss:
        h.network.popleft()
    else:
        if rnd.random() < dup:
            h.network.append(item)
        h.deliver_one()
    h.network.rotate(index)


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
@pytest.mark.parametrize("seed", range(4))
def test_lossy_network_with_crashes_stays_safe_and_converges(protocol: str, seed: int) -> None:
    rnd = random.Random(seed)
    h = Harness(make_params(4, protocol=protocol, view_change_timeout_ms=3000))
    members = set(h.params.member_ids)
    requests = 0
    for _ in range(2500):
        roll = rnd.random()
        if roll < 0.02:
            requests += 1
            veto = b" veto:n1" if rnd.random() < 0.1 else b""
            h.propose(rnd.choice(sorted(h.replicas)), f"r{requests}", b"doc-%d" % requests + veto)
        elif roll < 0.025:
            if not h.down:
                h.crash(rnd.choice(sorted(h.replicas)))
            else:
                h.restart(sorted(h.down)[0])
        elif roll < 0.2:
            h.tick(rnd.randint(1, 300))
        elif h.network:
            deliver_randomly(h, rnd, loss=0.2, dup=0.1)
        assert_agreement(h, members)
    for member in sorted(h.down):
        h.restart(member)
    h.settle(rounds=600)
    assert_agreement(h, members)
    assert len(set(h.heads().values())) == 1
    assert h.replicas["n0"].head_revision > 0


def byzantine_rewrite(h: Harness, rnd: random.Random, member: str, message: Message) -> Message:
    """What a lying member sends instead: conflicting proposals, lies about
    the outcome, votes for random digests, reports that hide locks and votes."""
    signer = h.signers[member]
    if isinstance(message, Propose) and rnd.random() < 0.5:
        entry = message.entry
        other = make_entry(
            hash_fn,
            CLUSTER,
            entry.revision,
            entry.parent_digest,
            b"other-%f" % rnd.random(),
            entry.request_id,
            entry.origin,
            entry.initiator,
        )
        return sign_message(signer, dataclasses.replace(message, entry=other, signature=b""))
    if isinstance(message, Finalize) and rnd.random() < 0.5:
        entry = message.decided.entry
        abort = Abort(
            CLUSTER,
            member,
            message.view,
            message.attempt,
            message.revision,
            entry.digest,
            entry.request_id,
            entry.origin,
            "made up",
            (),
        )
        return sign_message(signer, abort)
    if isinstance(message, PrepareOk | CommitVote) and rnd.random() < 0.3:
        digest = hash_fn(b"%f" % rnd.random())
        return sign_message(signer, dataclasses.replace(message, digest=digest, signature=b""))
    if isinstance(message, ViewChange) and rnd.random() < 0.5:
        hidden = dataclasses.replace(
            message,
            lock=None,
            lock_entry=None,
            vote_entry=None,
            vote_view=-1,
            vote_attempt=-1,
            signature=b"",
        )
        return sign_message(signer, hidden)
    return message


@pytest.mark.parametrize("protocol", ["standard_pbft", "optimistic_pbft"])
@pytest.mark.parametrize("liar", ["n0", "n2"])
@pytest.mark.parametrize("seed", range(3))
def test_one_byzantine_member_cannot_break_agreement(protocol: str, liar: str, seed: int) -> None:
    rnd = random.Random(seed)
    h = Harness(make_params(4, protocol=protocol, view_change_timeout_ms=3000))
    honest = set(h.params.member_ids) - {liar}
    requests = 0
    for _ in range(2500):
        roll = rnd.random()
        if roll < 0.02:
            requests += 1
            h.propose(rnd.choice(sorted(honest)), f"r{requests}", b"doc-%d" % requests)
        elif roll < 0.2:
            h.tick(rnd.randint(1, 300))
        elif h.network:
            index = rnd.randrange(len(h.network))
            h.network.rotate(-index)
            sender, to, message = h.network.popleft()
            if rnd.random() >= 0.15:
                if sender == liar and to != liar:
                    message = byzantine_rewrite(h, rnd, liar, message)
                h.replicas[to].step(message)
                h.collect(to)
            h.network.rotate(index)
        assert_agreement(h, honest)
    h.settle(rounds=600)
    assert_agreement(h, honest)
    assert len({h.heads()[m] for m in honest}) == 1
