"""A member that forwards invalid updates in a flood gets only a few of them checked."""

from __future__ import annotations

from collections.abc import Callable

from consensus_harness import Harness, make_params

from butterfly_config.consensus.messages import Refuse
from butterfly_config.consensus.replica import INVALID_REQUESTS_KEPT, INVALID_REQUESTS_WINDOW_MS
from butterfly_config.consensus.state import ProposalCommitted, Verdict


def _counting_checks(h: Harness, member: str) -> list[bytes]:
    """The documents `member`'s validation callback is asked about, in order."""
    replica = h.replicas[member]
    checked: list[bytes] = []
    validate: Callable[[bytes, bytes], Verdict] = replica._validate

    def counting(document: bytes, head: bytes) -> Verdict:
        checked.append(document)
        return validate(document, head)

    replica._validate = counting
    return checked


def _flood(h: Harness, member: str, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        h.propose(member, f"junk-{i}", f"invalid-{i}".encode())
        h.run()


def test_a_flood_of_invalid_updates_costs_the_coordinator_a_few_checks() -> None:
    h = Harness(make_params(4))
    checked = _counting_checks(h, "n0")
    _flood(h, "n3", 40)
    assert len(checked) == INVALID_REQUESTS_KEPT
    refusals = [m for s, to, m in h.sent if s == "n0" and to == "n3" and isinstance(m, Refuse)]
    assert len(refusals) == 40
    assert [r.kind for r in refusals].count("invalid") == INVALID_REQUESTS_KEPT
    assert all("invalid updates within" in r.reason for r in refusals if r.kind == "busy")
    # the other members' updates are checked and commit as before
    h.propose("n1", "good", b"doc-1")
    h.run()
    assert h.events_of("n1", ProposalCommitted)
    assert checked[-1] == b"doc-1"


def test_the_member_is_checked_again_once_the_window_has_passed() -> None:
    h = Harness(make_params(4))
    checked = _counting_checks(h, "n0")
    _flood(h, "n3", INVALID_REQUESTS_KEPT + 1)
    assert len(checked) == INVALID_REQUESTS_KEPT
    h.tick(INVALID_REQUESTS_WINDOW_MS)
    h.propose("n3", "good", b"doc-1")
    h.run()
    assert checked[-1] == b"doc-1"
    assert h.events_of("n3", ProposalCommitted)


def test_a_few_invalid_updates_are_each_checked_and_refused_as_invalid() -> None:
    h = Harness(make_params(4))
    checked = _counting_checks(h, "n0")
    _flood(h, "n3", INVALID_REQUESTS_KEPT - 1)
    h.propose("n3", "good", b"doc-1")
    h.run()
    assert checked[:INVALID_REQUESTS_KEPT] == [
        *(f"invalid-{i}".encode() for i in range(INVALID_REQUESTS_KEPT - 1)), b"doc-1"]
    refusals = [m for s, _, m in h.sent if s == "n0" and isinstance(m, Refuse)]
    assert [r.kind for r in refusals] == ["invalid"] * (INVALID_REQUESTS_KEPT - 1)
    assert h.events_of("n3", ProposalCommitted)
