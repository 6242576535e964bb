"""Quorum arithmetic: the table of the design, and the intersection property behind it."""

from __future__ import annotations

import pytest

from butterfly_config.validation import max_faults, min_members, quorum_size


@pytest.mark.parametrize(
    ("n", "f", "q"),
    [
        (4, 1, 3),
        (7, 2, 5),
        (5, 1, 4),
        (10, 3, 7),
        (1, 0, 1),
        (3, 0, 2),
        (6, 1, 4),
        (13, 4, 9),
    ],
)
def test_quorum_size_table(n: int, f: int, q: int) -> None:
    assert quorum_size(n, f) == q


@pytest.mark.parametrize("f", [0, 1, 2, 3, 10])
def test_quorum_is_2f_plus_1_at_the_minimum_cluster(f: int) -> None:
    assert min_members(f) == 3 * f + 1
    assert quorum_size(min_members(f), f) == 2 * f + 1


@pytest.mark.parametrize(("n", "f"), [(1, 0), (3, 0), (4, 1), (6, 1), (7, 2), (10, 3), (100, 33)])
def test_max_faults(n: int, f: int) -> None:
    assert max_faults(n) == f
    assert min_members(max_faults(n)) <= n < min_members(max_faults(n) + 1)


def test_quorums_intersect_in_an_honest_member_and_honest_members_form_one() -> None:
    for n in range(1, 80):
        for f in range(0, max_faults(n) + 1):
            q = quorum_size(n, f)
            assert 2 * q - n >= f + 1, (n, f, q)  # two quorums share an honest member
            assert n - f >= q, (n, f, q)  # the honest members alone reach a quorum
            assert q <= n


@pytest.mark.parametrize(("n", "f"), [(0, 0), (-1, 0), (4, -1)])
def test_impossible_counts_are_refused(n: int, f: int) -> None:
    with pytest.raises(ValueError):
        quorum_size(n, f)
