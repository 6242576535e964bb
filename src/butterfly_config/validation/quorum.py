"""Byzantine quorum arithmetic shared by validation, consensus and the node.

With n members of which up to f may be Byzantine, safety and liveness need
n >= 3f+1, and a quorum is q = ceil((n+f+1)/2): any two quorums then overlap
in at least f+1 members, so in at least one honest member, while the n-f
honest members alone still form a quorum. When n = 3f+1 this is the familiar
2f+1. The "2f+1 nodes" rule of thumb is enough only for crash faults.
"""

from __future__ import annotations


def _check_counts(n: int, f: int = 0) -> None:
    if n < 1:
        raise ValueError(f"a cluster has at least one member, got n={n}")
    if f < 0:
        raise ValueError(f"the number of faults cannot be negative, got f={f}")


def min_members(f: int) -> int:
    """Fewest members that tolerate `f` Byzantine faults: 3f+1."""
    _check_counts(1, f)
    return 3 * f + 1


def max_faults(n: int) -> int:
    """Most Byzantine faults `n` members tolerate: floor((n-1)/3)."""
    _check_counts(n)
    return (n - 1) // 3


def quorum_size(n: int, f: int) -> int:
    """Votes needed for a certificate among `n` members tolerating `f` faults.

    ceil((n+f+1)/2), computed in integers. The caller decides whether n >= 3f+1
    holds (validation reports it); this only does the arithmetic.
    """
    _check_counts(n, f)
    return (n + f + 2) // 2
