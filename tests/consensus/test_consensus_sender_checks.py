"""FINALIZE and CONFIG_APPLIED: their signatures are checked wherever their sender is trusted.

A FINALIZE is applied on the strength of its certificate, whoever relayed it,
so its own signature is not checked on that path (one check per member per
commit). Every path that does trust the sender (evidence against it, a reply
to a repeat, a fetch from it) checks it first, and a CONFIG_APPLIED counts only
once its signature is checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from consensus_harness import Harness, make_params

from butterfly_config.consensus.crypto import sign_message
from butterfly_config.consensus.messages import (
    CommitCertificate,
    ConfigApplied,
    Decided,
    Fetch,
    Finalize,
    Message,
)
from butterfly_config.consensus.state import EvidenceFound


def _unsigned(message: Message) -> Message:
    """The same message with a signature nobody made."""
    return dataclasses.replace(message, signature=bytes(64))  # type: ignore[type-var]


def _signed_by(h: Harness, member: str, message: Message) -> Message:
    return sign_message(h.signers[member],
                        dataclasses.replace(message, sender=member, signature=b""))  # type: ignore[type-var]


def _commit_while_n3_misses_the_finalize(h: Harness) -> Finalize:
    """One update commits everywhere but on n3, which never gets its FINALIZE."""
    h.drop = lambda _s, to, m: to == "n3" and isinstance(m, Finalize)
    h.propose("n0", "r1", b"doc-1")
    h.run()
    h.drop = None
    assert h.replicas["n3"].head_revision == 0 and h.replicas["n1"].head_revision == 1
    finalize = next(m for _, to, m in h.sent if to == "n3" and isinstance(m, Finalize))
    assert isinstance(finalize, Finalize)
    return finalize


def _broken(finalize: Finalize) -> Finalize:
    """The FINALIZE with one vote of its certificate left out."""
    cert = finalize.decided.certificate
    assert isinstance(cert, CommitCertificate)
    short = dataclasses.replace(cert, fast_votes=cert.fast_votes[1:],
                                commit_votes=cert.commit_votes[1:])
    return dataclasses.replace(finalize, decided=Decided(finalize.decided.entry, short))


def _sent_to(h: Harness, to: str, kind: type, since: int) -> list[Message]:
    return [m for _, dest, m in h.sent[since:] if dest == to and isinstance(m, kind)]


def _answers_to_forged_then_genuine(
    h: Harness, finalize: Finalize, member: str, kind: type, deliver: Callable[[], object]
) -> tuple[int, int]:
    """How many `kind` messages `member` sends the coordinator for an unsigned copy of
    `finalize`, then for `finalize` itself."""
    counts = []
    for message in (_unsigned(finalize), finalize):
        mark = len(h.sent)
        h.inject("n0", member, message)
        deliver()
        counts.append(len(_sent_to(h, "n0", kind, mark)))
    return counts[0], counts[1]


def test_a_certified_revision_is_applied_whoever_relayed_it() -> None:
    h = Harness(make_params(4))
    finalize = _commit_while_n3_misses_the_finalize(h)
    h.inject("n0", "n3", _unsigned(finalize))
    h.run()
    assert h.replicas["n3"].head_revision == 1
    h.check_agreement()


def test_a_bad_certificate_under_a_forged_name_is_no_evidence_against_that_member() -> None:
    h = Harness(make_params(4))
    finalize = _commit_while_n3_misses_the_finalize(h)
    forged = _unsigned(dataclasses.replace(_broken(finalize), sender="n1"))
    h.inject("n2", "n3", forged)
    h.run()
    assert h.replicas["n3"].head_revision == 0
    assert not h.events_of("n3", EvidenceFound)
    # signed by n1 itself, the same certificate is evidence against n1
    h.inject("n1", "n3", _signed_by(h, "n1", _broken(finalize)))
    h.run()
    evidence = h.events_of("n3", EvidenceFound)
    assert [(e.member, e.kind) for e in evidence] == [("n1", "bad_certificate")]  # type: ignore[attr-defined]
    assert h.replicas["n3"].head_revision == 0


def test_a_repeat_is_answered_only_when_its_sender_signed_it() -> None:
    h = Harness(make_params(4))
    h.propose("n0", "r1", b"doc-1")
    h.run()
    finalize = next(m for _, to, m in h.sent if to == "n2" and isinstance(m, Finalize))
    assert isinstance(finalize, Finalize)
    assert _answers_to_forged_then_genuine(h, finalize, "n2", ConfigApplied, h.run) == (0, 1)


def test_a_finalize_from_ahead_starts_a_fetch_only_when_its_sender_signed_it() -> None:
    h = Harness(make_params(4))
    h.drop = lambda _s, to, m: to == "n3"  # n3 hears nothing of two commits
    for number in (1, 2):
        h.propose("n0", f"r{number}", f"doc-{number}".encode())
        h.settle(rounds=40)
    h.drop = None
    assert h.replicas["n0"].head_revision == 2 and h.replicas["n3"].head_revision == 0
    second = next(m for _, to, m in h.sent
                  if to == "n3" and isinstance(m, Finalize) and m.revision == 2)
    assert isinstance(second, Finalize)
    assert _answers_to_forged_then_genuine(h, second, "n3", Fetch, h.deliver_one) == (0, 1)
    h.run()
    assert h.replicas["n3"].head_revision == 2
    h.check_agreement()


def _commit_while_n3_answer_is_lost(h: Harness) -> ConfigApplied:
    """One update commits; n3's CONFIG_APPLIED never reaches the coordinator."""
    h.drop = lambda sender, _t, m: sender == "n3" and isinstance(m, ConfigApplied)
    h.propose("n0", "r1", b"doc-1")
    h.run()
    h.drop = None
    lost = next(m for s, _, m in h.sent if s == "n3" and isinstance(m, ConfigApplied))
    assert isinstance(lost, ConfigApplied)
    return lost


def _finalize_resent_to(h: Harness, answer: Message) -> list[str]:
    """The members the coordinator sends FINALIZE again, once `answer` has reached it."""
    h.inject("n3", "n0", answer)
    h.run()
    mark = len(h.sent)
    h.tick(h.params.scaled(h.params.commit_timeout_ms) + 1)
    return [to for _, to, m in h.sent[mark:] if isinstance(m, Finalize)]


def test_an_unsigned_config_applied_does_not_spare_the_member_a_resend() -> None:
    h = Harness(make_params(4))
    genuine = _commit_while_n3_answer_is_lost(h)
    assert _finalize_resent_to(h, _unsigned(genuine)) == ["n3"]
    assert _finalize_resent_to(h, genuine) == []


def test_a_config_applied_for_another_digest_does_not_count() -> None:
    h = Harness(make_params(4))
    genuine = _commit_while_n3_answer_is_lost(h)
    other = _signed_by(h, "n3", dataclasses.replace(genuine, digest="0" * 64))
    assert _finalize_resent_to(h, other) == ["n3"]


def test_a_forgery_after_the_genuine_answer_does_not_displace_it() -> None:
    h = Harness(make_params(4))
    genuine = _commit_while_n3_answer_is_lost(h)
    h.inject("n3", "n0", genuine)
    h.run()
    assert _finalize_resent_to(h, _unsigned(genuine)) == []
