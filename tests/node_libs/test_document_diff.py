"""Which option values of two cluster documents differ: the fast paths agree with the plain walk."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.config import ButterflyConfig
from butterfly_config.node import documents


def walked_same(a: Any, b: Any) -> bool:
    """The definition: equal and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(walked_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(walked_same, a, b))
    return bool(a == b)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(2**63, 2**70),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e20]), st.sampled_from(["", "a", "1"]),
    st.tuples(st.integers(0, 2)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(a=VALUES, b=VALUES)
def test_same_value_is_the_walk(a: Any, b: Any) -> None:
    assert documents.same_value(a, b) == walked_same(a, b)
    assert documents.same_value(a, a) == walked_same(a, a)


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_equal_tables_of_other_types_are_not_the_same(value: Any) -> None:
    for left, right in (({"k": 1}, {"k": 1.0}), ({"k": 1}, {"k": True}),
                        ({"k": [0]}, {"k": [False]})):
        assert not documents.same_value({"x": value, **left}, {"x": value, **right})


def _document(level: int, timeout: int, members: int = 4) -> bytes:
    config = ButterflyConfig.defaults().with_values({
        "network.compression.level": level,
        "network.connection.idle_timeout_ms": timeout,
        "cluster.members": [
            {"node_id": f"n{i}", "addr": f"10.0.0.{i}:7890", "api_addr": f"10.0.0.{i}:8080",
             "public_key": base64.b64encode(f"key-{i}".encode()).decode()}
            for i in range(members)
        ],
    })
    return documents.document_of(config)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 19), st.integers(1, 19), st.integers(60_000, 60_005),
       st.integers(60_000, 60_005), st.integers(4, 5), st.integers(4, 5))
def test_changed_paths_are_those_whose_values_differ(
    level_a: int, level_b: int, timeout_a: int, timeout_b: int, members_a: int, members_b: int,
) -> None:
    old = _document(level_a, timeout_a, members_a)
    new = _document(level_b, timeout_b, members_b)
    before, after = documents.cluster_values(old), documents.cluster_values(new)
    expected = tuple(p for p in after if not walked_same(before[p], after[p]))
    assert documents.changed_paths(old, new) == expected
    assert ("network.compression.level" in expected) == (level_a != level_b)
    assert ("cluster.members" in expected) == (members_a != members_b)
