"""Signatures against the state machine: what a commit costs beyond its cryptography.

The floor is `cryptography`'s own ed25519 sign and verify, timed in this run.
A PROPOSE carrying a 40 KB document is also signed and verified against raw
ed25519 over its whole encoding: messages are signed over a BLAKE3 digest of
their encoding, so the ratio is below 1.
A commit at n = 4 is driven straight through n `Replica` objects (no simulator,
no network, no checker), counting every signature made and every signature
actually verified (cache hits excluded); the cryptographic floor of a commit is
those counts times the raw costs, and the ratio says how much the state
machine (encoding, certificates, bookkeeping) adds on top.

Run standalone: python -m benchmarks.consensus_crypto [--quick]
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from collections import deque

from cryptography.hazmat.primitives.asymmetric import ed25519

from benchmarks.report import Figure
from butterfly_config.consensus.crypto import KeyRing, Signer, generate_signer, sign_message
from butterfly_config.consensus.messages import (
    Decided,
    Message,
    PrepareOk,
    Propose,
    encode_message,
    make_entry,
)
from butterfly_config.consensus.params import ConsensusParams, Member
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import Verdict

CLUSTER = "bench-cluster"
PAYLOAD = b"x" * 120  # about the size of a vote's signing bytes
DOCUMENT_BYTES = 40_000  # a large cluster's document, about the reference file's size


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def _accept(_document: bytes, _head: bytes) -> Verdict:
    return Verdict.accept()


def _per_call_us(fn: object, rounds: int) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(rounds):
            fn(i)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(samples)


class CountingSigner:
    """Wraps a signer to count signatures."""

    def __init__(self, inner: Signer) -> None:
        self.inner = inner
        self.node_id = inner.node_id
        self.algorithm = inner.algorithm
        self.count = 0

    def sign(self, data: bytes) -> bytes:
        self.count += 1
        return self.inner.sign(data)

    def public_key_bytes(self) -> bytes:
        return self.inner.public_key_bytes()


def commit_cost(nodes: int, commits: int, protocol: str) -> tuple[float, float, float]:
    """(CPU ms per commit, signatures per commit, verifications per commit)."""
    signers = [CountingSigner(generate_signer(f"n{i}")) for i in range(nodes)]
    params = ConsensusParams(
        cluster_name=CLUSTER,
        members=tuple(Member(s.node_id, f"127.0.0.1:{7000 + i}", s.public_key_bytes())
                      for i, s in enumerate(signers)),
        f=(nodes - 1) // 3,
        protocol=protocol,  # type: ignore[arg-type]
    )
    genesis = Decided(make_entry(_hash, CLUSTER, 0, "", b"revision-0"), None)
    rings = {s.node_id: KeyRing({m.node_id: m.public_key for m in params.members})
             for s in signers}
    replicas = {
        s.node_id: Replica(params, s, _accept, _hash, [genesis],
                           keyring=rings[s.node_id])
        for s in signers
    }
    network: deque[tuple[str, Message]] = deque()

    def collect(node_id: str) -> None:
        replica = replicas[node_id]
        while replica.has_ready():
            ready = replica.ready()
            network.extend((out.to, out.message) for out in ready.messages)
            replica.advance(ready)

    for node_id in replicas:
        collect(node_id)
    while network:
        to, message = network.popleft()
        replicas[to].step(message)
        collect(to)
    signs_before = sum(s.count for s in signers)
    verified_before = sum(r.stats().verified for r in rings.values())
    start = time.process_time()
    for k in range(commits):
        replicas["n0"].propose(f"bench-{k}", b"document %d " % k * 100, "bench")
        collect("n0")
        while network:
            to, message = network.popleft()
            replicas[to].step(message)
            collect(to)
    cpu_ms = (time.process_time() - start) * 1000 / commits
    if any(r.head_revision != commits for r in replicas.values()):
        raise RuntimeError(f"n={nodes}: not every replica committed {commits} revisions")
    signs = (sum(s.count for s in signers) - signs_before) / commits
    verified = (sum(r.stats().verified for r in rings.values()) - verified_before) / commits
    return cpu_ms, signs, verified


def _document_figures(signer: Signer, rounds: int) -> list[Figure]:
    """A PROPOSE with a 40 KB document: signed and verified as the protocol does
    (encoding, BLAKE3, ed25519 over the digest) against ed25519 over the encoding."""
    entry = make_entry(_hash, CLUSTER, 1, "parent", b"d" * DOCUMENT_BYTES, "req", "n0", "admin")
    # distinct views throughout: the key ring caches signatures it has verified
    proposes = [Propose(CLUSTER, "n0", view, 0, 1, entry, True, ()) for view in range(5 * rounds)]
    wire = encode_message(proposes[0])
    key = ed25519.Ed25519PrivateKey.generate()
    public, signature = key.public_key(), key.sign(wire)
    raw_sign = _per_call_us(lambda i: key.sign(wire), rounds)
    raw_verify = _per_call_us(lambda i: public.verify(signature, wire), rounds)
    unsigned = iter(proposes)
    signed: list[Propose] = []
    sign = _per_call_us(lambda i: signed.append(sign_message(signer, next(unsigned))), rounds)
    ring = KeyRing({"n0": signer.public_key_bytes()})
    unseen = iter(signed)
    verify = _per_call_us(lambda i: ring.verify_message(next(unseen)), rounds)
    size = f"{len(wire) // 1000} KB"
    return [
        Figure(f"ed25519 sign of a {size} PROPOSE's encoding [floor]", raw_sign, "us"),
        Figure(f"ed25519 verify of a {size} PROPOSE's encoding [floor]", raw_verify, "us"),
        Figure("PROPOSE sign (encode + BLAKE3 + sign)", sign, "us", ratio=sign / raw_sign,
               note="signed over the digest of its encoding"),
        Figure("PROPOSE verify (encode + BLAKE3 + verify, first time)", verify, "us",
               ratio=verify / raw_verify),
    ]


def run(quick: bool = False) -> list[Figure]:
    rounds = 300 if quick else 2000
    key = ed25519.Ed25519PrivateKey.generate()
    public, signature = key.public_key(), key.sign(PAYLOAD)
    raw_sign = _per_call_us(lambda i: key.sign(PAYLOAD), rounds)
    raw_verify = _per_call_us(lambda i: public.verify(signature, PAYLOAD), rounds)
    signer = generate_signer("n0")
    # distinct votes throughout: the key ring caches signatures it has verified
    votes = iter([PrepareOk(CLUSTER, "n0", 0, 0, i, "d" * 64, True) for i in range(5 * rounds)])
    signed: list[PrepareOk] = []
    vote_sign = _per_call_us(lambda i: signed.append(sign_message(signer, next(votes))), rounds)
    ring = KeyRing({"n0": signer.public_key_bytes()})
    unseen = iter(signed)
    vote_verify = _per_call_us(lambda i: ring.verify_message(next(unseen)), rounds)
    figures = [
        *_document_figures(signer, rounds // 4),
        Figure("ed25519 sign, cryptography [floor]", raw_sign, "us"),
        Figure("ed25519 verify, cryptography [floor]", raw_verify, "us"),
        Figure("vote sign (encode + sign)", vote_sign, "us", ratio=vote_sign / raw_sign),
        Figure("vote verify (encode + verify, first time)", vote_verify, "us",
               ratio=vote_verify / raw_verify),
    ]
    commits = 10 if quick else 60
    for nodes in (4, 31):
        for protocol in ("optimistic_pbft", "standard_pbft"):
            count = commits if nodes == 4 else max(3, commits // 10)
            cpu, signs, verified = commit_cost(nodes, count, protocol)
            floor_ms = (signs * raw_sign + verified * raw_verify) / 1000
            figures.append(Figure(
                f"replica CPU per commit, n={nodes}, {protocol}", cpu, "ms",
                ratio=cpu / floor_ms,
                target="<= 3x crypto floor (state machine adds <= 2x)" if nodes == 4 else "",
                note=f"{signs:.0f} signs + {verified:.0f} verifies = {floor_ms:.2f} ms of "
                     "cryptography; all n replicas together",
            ))
    return figures


if __name__ == "__main__":
    from benchmarks.report import table

    print(table("Consensus signatures and state machine", run(quick="--quick" in sys.argv)))
