"""Measure signing/verification cost and CPU time per commit (run by hand).

    .venv/bin/python tests/consensus/measure_consensus.py

Not a test: timings depend on the machine. Prints one table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from consensus_harness import CLUSTER, Harness, make_params
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from butterfly_config.consensus.crypto import KeyRing, generate_signer, sign_message
from butterfly_config.consensus.messages import PrepareOk

ROUNDS = 2000


def per_call_us(fn: object, rounds: int = ROUNDS) -> float:
    start = time.perf_counter()
    for i in range(rounds):
        fn(i)  # type: ignore[operator]
    return (time.perf_counter() - start) / rounds * 1e6


def raw_lines() -> list[str]:
    payload = b"x" * 120  # about the size of a vote's signing bytes
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_pub, ed_sig = ed.public_key(), ed.sign(payload)
    p256 = ec.generate_private_key(ec.SECP256R1())
    ecdsa = ec.ECDSA(hashes.SHA256())
    p256_pub, p256_sig = p256.public_key(), p256.sign(payload, ecdsa)
    timings = {
        "raw ed25519 sign": per_call_us(lambda i: ed.sign(payload)),
        "raw ed25519 verify": per_call_us(lambda i: ed_pub.verify(ed_sig, payload)),
        "raw ecdsa_p256 sign": per_call_us(lambda i: p256.sign(payload, ecdsa), 500),
        "raw ecdsa_p256 verify": per_call_us(
            lambda i: p256_pub.verify(p256_sig, payload, ecdsa), 500
        ),
    }
    return [f"{name:28s} {us:8.1f} us" for name, us in timings.items()]


def vote_lines(algorithm: str) -> list[str]:
    signer = generate_signer("n0", algorithm)  # type: ignore[arg-type]
    votes = [PrepareOk(CLUSTER, "n0", 0, 0, i, "d" * 64, True) for i in range(ROUNDS)]
    signed: list[PrepareOk] = []
    sign_us = per_call_us(lambda i: signed.append(sign_message(signer, votes[i])))
    ring = KeyRing({"n0": signer.public_key_bytes()}, algorithm)  # type: ignore[arg-type]
    first_us = per_call_us(lambda i: ring.verify_message(signed[i]))
    cached_us = per_call_us(lambda i: ring.verify_message(signed[i]))
    return [
        f"vote sign   ({algorithm:10s})  {sign_us:8.1f} us  (encode + sign)",
        f"vote verify ({algorithm:10s})  {first_us:8.1f} us  first time",
        f"vote verify ({algorithm:10s})  {cached_us:8.1f} us  again (LRU hit)",
    ]


def signing_table() -> list[str]:
    return raw_lines() + vote_lines("ed25519") + vote_lines("ecdsa_p256")


def commit_table() -> list[str]:
    lines = []
    for n in (4, 31):
        for protocol in ("standard_pbft", "optimistic_pbft"):
            h = Harness(make_params(n, protocol=protocol))
            commits = 20 if n == 4 else 5
            start = time.process_time()
            for i in range(commits):
                h.propose(f"n{i % n}", f"r{i}", f"document {i} ".encode() * 100)
                h.run()
            elapsed = time.process_time() - start
            assert all(r.head_revision == commits for r in h.replicas.values())
            messages = len(h.sent) / commits
            lines.append(
                f"n={n:2d} {protocol:16s} {elapsed / commits * 1e3:8.1f} ms CPU per commit "
                f"(all n replicas together, {messages:.0f} messages)"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(signing_table()))
    print("\n".join(commit_table()))
