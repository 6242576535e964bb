"""Every simulator seed that ever failed, with the setting it failed in.

Each is replayed by test_sim_regressions.py on every run, forever. Add a line
whenever `butterfly sim` or the seed sweep finds a failure: the setting is what
`SimParams` needs to reproduce it (defaults unless named).
"""

from __future__ import annotations

from typing import NamedTuple


class FailedSeed(NamedTuple):
    nodes: int
    faulty: int
    byzantine: str
    network: str
    seed: int
    found: str


REGRESSION_SEEDS: tuple[FailedSeed, ...] = (
    # A Byzantine coordinator proposing invalid documents kept aborting and
    # re-balloting in view 0 forever: aborts counted as progress.
    *(
        FailedSeed(4, 1, "invalid_coordinator", "hostile", seed, "liveness: stuck in view 0")
        for seed in (0, 1, 2, 6, 7)
    ),
    FailedSeed(4, 1, "all", "hostile", 6, "liveness: invalid_coordinator in the mix"),
    FailedSeed(4, 1, "all", "hostile", 7, "liveness: invalid_coordinator in the mix"),
    *(
        FailedSeed(7, 2, "all", "hostile", seed, "liveness: invalid_coordinator in the mix")
        for seed in (30, 34, 39, 57)
    ),
    # An equivocating coordinator left one member alone in view 1 with a pending request.
    *(
        FailedSeed(4, 1, "equivocate", "hostile", seed, "liveness: lone member in view 1")
        for seed in (29, 67, 97)
    ),
    # A member vetoing everything slowed the cluster past the 30 s liveness bound.
    FailedSeed(4, 1, "reject_all", "hostile", 14, "liveness: vetoes outlasted the bound"),
    # After an ABORT the coordinator re-sent a late reporter the NEW_VIEW of its previous
    # attempt under the new attempt's ballot: invalid, so honest members found
    # bad_justification evidence against an honest coordinator ("no false evidence").
    *(
        FailedSeed(4, 1, "reject_all", "hostile", seed, "no false evidence: re-sent NEW_VIEW")
        for seed in (400001, 400012, 400016)
    ),
    FailedSeed(4, 1, "wrong_hash", "hostile", 400016, "no false evidence: re-sent NEW_VIEW"),
    # A late copy of an ABORT made a member that had already voted in the next ballot
    # report for that ballot again: an invalid report, dropped unseen ("valid reports").
    *(
        FailedSeed(4, 1, "none", "hostile", seed, "valid reports: report after a late ABORT")
        for seed in (910024, 910030, 910037)
    ),
    FailedSeed(4, 1, "replay", "hostile", 910004, "valid reports: report after a late ABORT"),
    FailedSeed(4, 1, "reject_all", "hostile", 910000,
               "valid reports: report after a late ABORT"),
    # A coordinator justified a re-ballot (v, a) of a revision with the reports of an
    # earlier revision's (v, a) and had a second entry decided for a revision already
    # decided on the fast path: two honest members applied different entries.
    *(
        FailedSeed(4, 1, "stale_reports", "hostile", seed,
                   "agreement: a re-ballot justified by an earlier revision's reports")
        for seed in (18, 28, 61, 105, 118, 145, 182)
    ),
    FailedSeed(7, 2, "stale_reports", "hostile", 43,
               "agreement: a re-ballot justified by an earlier revision's reports"),
    # A member whose ABORT overtook the NEW_VIEW, then locked from a lower ballot's
    # COMMIT, repeated a report for (v, 0) that showed that lock: invalid.
    *(
        FailedSeed(10, 3, "stale_reports", "hostile", seed,
                   "valid reports: a repeated (v, 0) report showing a lock in view v")
        for seed in (20, 23)
    ),
)
