"""The fixed parts of a simulated cluster: keys, parameters, genesis, callbacks.

Keys come from the run's rng (ed25519 from 32 random bytes), so a seed fixes
every signature too. Validation is deterministic and shared by every member
(documents starting with b"bad" are invalid); the subscriber veto is local to
one member and cannot be checked by the others, as in the real runtime.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import blake3

from butterfly_config.consensus.crypto import Ed25519Signer, KeyRing
from butterfly_config.consensus.messages import (
    GENESIS_PARENT,
    Decided,
    Entry,
    make_entry,
)
from butterfly_config.consensus.params import ConsensusParams, Member
from butterfly_config.consensus.state import Verdict

CLUSTER = "sim-cluster"
GENESIS_DOCUMENT = b"genesis"
INVALID_PREFIX = b"bad"


def sim_hash(data: bytes) -> str:
    """The hash function handed to replicas (BLAKE3, as the project uses)."""
    return str(blake3.blake3(data).hexdigest())


def validation_error(document: bytes) -> str | None:
    """The deterministic validation rule every honest member applies."""
    if document.startswith(INVALID_PREFIX):
        return "document starts with b'bad' (fails validation)"
    if not document:
        return "empty document"
    return None


def validate(document: bytes, head_document: bytes) -> Verdict:
    error = validation_error(document)
    return Verdict.accept() if error is None else Verdict.invalid(error)


def make_vetoing_validator(salt: int) -> Callable[[bytes, bytes], Verdict]:
    """A member whose local subscriber vetoes about one document in four.

    Which ones depends on the document and `salt` only, so the run stays
    deterministic while the other members cannot reproduce the reason.
    """

    def validate_with_veto(document: bytes, head_document: bytes) -> Verdict:
        verdict = validate(document, head_document)
        if not verdict.ok:
            return verdict
        digest = hashlib.blake2b(document + salt.to_bytes(8, "big"), digest_size=2).digest()
        if digest[0] % 4 == 0:
            return Verdict.veto("subscriber 'gpu-scheduler' refuses this change")
        return verdict

    return validate_with_veto


def genesis(cluster: str = CLUSTER) -> Decided:
    entry = make_entry(sim_hash, cluster, 0, GENESIS_PARENT, GENESIS_DOCUMENT, "genesis", "")
    return Decided(entry, None)


@dataclass(frozen=True, slots=True)
class World:
    """Members, their signers and the protocol parameters of one run."""

    params: ConsensusParams
    signers: dict[str, Ed25519Signer]
    genesis: Decided

    @property
    def members(self) -> tuple[str, ...]:
        return self.params.member_ids

    def keyring(self) -> KeyRing:
        return self.params.keyring()

    def genesis_entry(self) -> Entry:
        return self.genesis.entry


def build_world(
    rng: random.Random,
    nodes: int,
    faulty: int,
    *,
    cluster: str = CLUSTER,
    timeouts_ms: tuple[int, int, int, int] = (300, 600, 900, 1500),
    status_interval_ms: int = 400,
    protocol: str = "optimistic_pbft",
) -> World:
    """Members n0..n{nodes-1}, ed25519 keys from the rng, short simulated timeouts."""
    signers = {
        f"n{i}": Ed25519Signer.from_bytes(f"n{i}", rng.randbytes(32)) for i in range(nodes)
    }
    members = tuple(
        Member(node_id, f"10.0.0.{i + 1}:7890", signer.public_key_bytes())
        for i, (node_id, signer) in enumerate(signers.items())
    )
    pre_prepare, prepare, commit, view_change = timeouts_ms
    params = ConsensusParams(
        cluster_name=cluster,
        members=members,
        f=faulty,
        protocol="standard_pbft" if protocol == "standard_pbft" else "optimistic_pbft",
        pre_prepare_timeout_ms=pre_prepare,
        prepare_timeout_ms=prepare,
        commit_timeout_ms=commit,
        view_change_timeout_ms=view_change,
        status_interval_ms=status_interval_ms,
    )
    return World(params, signers, genesis(cluster))
