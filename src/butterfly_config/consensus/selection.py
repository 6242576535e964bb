"""Choosing what a new ballot may propose, from q or more VIEW_CHANGE reports.

The coordinator runs `select` to decide what to propose; every member runs
the same function on the reports attached to the PROPOSE and refuses a
proposal that does not match. The rule (proved in docs/consensus.md):

* a report whose head is at or past the proposed revision makes the
  proposal stale (that revision is already decided);
* otherwise, among reports for the proposed revision, L = the prepare
  certificate (lock) with the highest ballot;
* if some entry has at least k - f fast-path votes at ballots above L's
  (k = number of reports), it may have been decided on the fast path:
  propose it (at most one entry can reach k - f);
* else, if L exists, propose L's entry;
* else the ballot is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.messages import Ballot, Entry, ViewChange

SelectionKind = Literal["free", "forced", "stale"]


@dataclass(frozen=True, slots=True)
class Selection:
    """What a ballot may propose for a revision.

    `basis` is the ballot of the lock or votes that forced the entry (used by
    a locked member to decide whether this selection supersedes its lock).
    """

    kind: SelectionKind
    entry: Entry | None = None
    basis: Ballot = (-1, -1)


def report_problem(verifier: Verifier, report: ViewChange, ballot: Ballot) -> str | None:
    """Why one VIEW_CHANGE report cannot justify `ballot` (None if it can)."""
    problem = verifier.message_problem(report)
    if problem is not None:
        return problem
    if report.ballot != ballot:
        return f"report of {report.sender} is for ballot {report.ballot}, not {ballot}"
    head = report.head
    if head.entry.revision != report.revision - 1:
        return f"report of {report.sender}: head is not revision - 1"
    problem = verifier.decided_problem(head)
    if problem is not None:
        return f"report of {report.sender}: head: {problem}"
    lock = report.lock
    if lock is not None:
        if report.lock_entry is None:
            return f"report of {report.sender}: lock without its entry"
        if lock.revision != report.revision or lock.ballot >= ballot:
            return f"report of {report.sender}: lock is not below the ballot for its revision"
        if report.lock_entry.digest != lock.digest:
            return f"report of {report.sender}: lock entry does not match the lock"
        problem = verifier.entry_problem(report.lock_entry) or (
            verifier.prepare_certificate_problem(lock)
        )
        if problem is not None:
            return f"report of {report.sender}: lock: {problem}"
    elif report.lock_entry is not None:
        return f"report of {report.sender}: lock entry without a lock"
    vote = report.vote_entry
    if vote is not None:
        if vote.revision != report.revision or (report.vote_view, report.vote_attempt) >= ballot:
            return f"report of {report.sender}: vote is not below the ballot for its revision"
        problem = verifier.entry_problem(vote)
        if problem is not None:
            return f"report of {report.sender}: vote: {problem}"
    return None


def reports_problem(
    verifier: Verifier, reports: tuple[ViewChange, ...], ballot: Ballot, revision: int
) -> str | None:
    """Why a set of reports cannot justify `ballot` for `revision`: too few, duplicates,
    bad ones, or (for a re-ballot) reports of an earlier revision.

    Attempts restart with every revision, so ballot (v, a > 0) exists once per
    revision. Its reports answer the ABORT of (v, a - 1) at that revision and
    show the votes cast in it; reports for (v, a) of an earlier revision say
    nothing about them, and accepting them would let a coordinator re-open a
    revision already decided on the fast path. (Reports for (v, 0) are the
    view's and keep justifying its later revisions: views never restart.)
    """
    senders = [r.sender for r in reports]
    if len(set(senders)) != len(senders):
        return "justification has two reports from one member"
    if len(senders) < verifier.params.quorum:
        return f"justification has {len(senders)} reports, {verifier.params.quorum} needed"
    for report in reports:
        problem = report_problem(verifier, report, ballot)
        if problem is not None:
            return problem
        if ballot[1] > 0 and report.revision < revision:
            return (f"report of {report.sender} is for revision {report.revision}: "
                    f"ballot {ballot} of revision {revision} needs reports of that revision")
    return None


def select(reports: tuple[ViewChange, ...], revision: int, f: int) -> Selection:
    """The deterministic choice for `revision` given already verified reports."""
    if any(r.revision > revision for r in reports):
        return Selection("stale")
    current = [r for r in reports if r.revision == revision]
    lock_ballot: Ballot = (-1, -1)
    lock_entry: Entry | None = None
    for report in current:
        if report.lock is not None and report.lock.ballot > lock_ballot:
            lock_ballot = report.lock.ballot
            lock_entry = report.lock_entry
    threshold = len(reports) - f
    counts: dict[str, int] = {}
    best: dict[str, tuple[Ballot, Entry]] = {}
    for report in current:
        vote_ballot = (report.vote_view, report.vote_attempt)
        entry = report.vote_entry
        if entry is None or not report.vote_fast or vote_ballot <= lock_ballot:
            continue
        counts[entry.digest] = counts.get(entry.digest, 0) + 1
        if entry.digest not in best or vote_ballot > best[entry.digest][0]:
            best[entry.digest] = (vote_ballot, entry)
    for digest, count in sorted(counts.items()):
        if count >= threshold:
            basis, entry = best[digest]
            return Selection("forced", entry, basis)
    if lock_entry is not None:
        return Selection("forced", lock_entry, lock_ballot)
    return Selection("free")
