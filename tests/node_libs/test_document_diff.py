"""Reading cluster documents (values, unknown keys, which options differ): the fast
paths agree with the definitions."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.canonical import canonical_bytes
from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ConfigError
from butterfly_config.node import document_reading, documents
from butterfly_config.schema.registry import options


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
    assert document_reading.same_value(a, b) == walked_same(a, b)
    assert document_reading.same_value(a, a) == walked_same(a, a)


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_equal_tables_of_other_types_are_not_the_same(value: Any) -> None:
    for left, right in (({"k": 1}, {"k": 1.0}), ({"k": 1}, {"k": True}),
                        ({"k": [0]}, {"k": [False]})):
        assert not document_reading.same_value({"x": value, **left}, {"x": value, **right})


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
    before, after = document_reading.cluster_values(old), document_reading.cluster_values(new)
    expected = tuple(p for p in after if not walked_same(before[p], after[p]))
    assert document_reading.changed_paths(old, new) == expected
    assert ("network.compression.level" in expected) == (level_a != level_b)
    assert ("cluster.members" in expected) == (members_a != members_b)


# -- reading sparse and odd documents: the one-pass reading and the table-level diff
# against the definitions (dig each option from the root; walk every key; compare
# every option's value)


def _dug(tree: Any, path: str) -> tuple[bool, Any]:
    node = tree
    for name in path.split("."):
        if not isinstance(node, dict) or name not in node:
            return False, None
        node = node[name]
    return True, node


def defined_values(tree: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for path in document_reading.cluster_paths():
        present, value = _dug(tree, path)
        values[path] = value if present else options()[path].default
    return values


def defined_unknown(tree: dict[str, Any]) -> list[str]:
    allowed = set(document_reading.cluster_paths())
    sections = {".".join(p.split(".")[:i]) for p in allowed for i in range(1, p.count(".") + 1)}
    found: list[str] = []

    def walk(node: dict[str, Any], base: str) -> None:
        for key, value in node.items():
            path = f"{base}.{key}" if base else key
            if path in allowed:
                continue
            if isinstance(value, dict) and path in sections:
                walk(value, path)
            else:
                found.append(path)

    walk(tree, "")
    return found


def _base_tree() -> dict[str, Any]:
    return orjson.loads(_document(3, 60_000))


ODD_VALUES = st.sampled_from([1, 1.0, True, 0, -0.0, "1", None, [], {}, {"x": 1}, [1], 5.5])


@st.composite
def odd_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The canonical document with some options and tables dropped, retyped or replaced,
    and keys added that are no option."""
    tree = _base_tree()
    paths = list(document_reading.cluster_paths())
    for _ in range(draw(st.integers(0, 6))):
        path = draw(st.sampled_from(paths))
        parts = path.split(".")
        depth = draw(st.integers(1, len(parts)))  # a table on the way, or the option
        node: Any = tree
        for name in parts[: depth - 1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(name, {})
        else:
            if isinstance(node, dict):
                key = parts[depth - 1]
                action = draw(st.sampled_from(["drop", "set", "add"]))
                if action == "drop":
                    node.pop(key, None)
                elif action == "set":
                    node[key] = copy.deepcopy(draw(ODD_VALUES))
                else:
                    node[f"no_such_{draw(st.integers(0, 2))}"] = copy.deepcopy(draw(ODD_VALUES))
    return tree


@settings(max_examples=300, deadline=None)
@given(a=odd_documents(), b=odd_documents())
def test_odd_documents_read_and_differ_as_defined(a: dict[str, Any], b: dict[str, Any]) -> None:
    old, new = orjson.dumps(a), orjson.dumps(b)
    before, after = defined_values(a), defined_values(b)
    lazy = document_reading.Reading(old)  # not yet read whole: each value dug out
    assert {path: lazy.value(path) for path in before} == before
    assert document_reading.cluster_values(old) == before
    assert list(document_reading.cluster_values(old)) == list(before)  # schema order
    assert sorted(document_reading.unknown_paths(old)) == sorted(defined_unknown(a))
    expected = tuple(p for p in after if not walked_same(before[p], after[p]))
    assert document_reading.changed_paths(old, new) == expected
    assert document_reading.changed_paths(old, old) == ()


@settings(max_examples=200, deadline=None)
@given(b=odd_documents())
def test_beside_a_clean_head_unknown_keys_are_found_where_the_documents_differ(
    b: dict[str, Any],
) -> None:
    head = _document(3, 60_000)
    assert document_reading.reading(head).is_clean()
    new = orjson.dumps(b)
    assert sorted(document_reading.unknown_paths_beside(head, new)) == sorted(defined_unknown(b))
    reason = documents.check_cluster_document(new, head)
    unknown = sorted(defined_unknown(b))
    if unknown:
        assert reason == f"not cluster-scope options: {', '.join(unknown[:10])}"
    else:
        assert reason is None or not reason.startswith("not cluster-scope options")


def test_beside_a_head_with_unknown_keys_the_whole_proposal_is_searched() -> None:
    head_tree = _base_tree()
    head_tree["metadata"]["no_such_key"] = 1
    head = orjson.dumps(head_tree)
    assert not document_reading.reading(head).is_clean()
    proposal_tree = _base_tree()
    proposal_tree["metadata"]["no_such_key"] = 1  # a table held alike: no change there
    proposal_tree["network"]["compression"]["level"] = 4
    reason = documents.check_cluster_document(orjson.dumps(proposal_tree), head)
    assert reason == "not cluster-scope options: metadata.no_such_key"


# -- the canonical-form check beside a head: the same verdict as encoding the whole build


PERTURBATIONS = st.sampled_from([
    "none", "unsorted", "spaces", "int_as_float", "float_as_int", "dropped", "escaped", "null",
])


def _perturbed(tree: dict[str, Any], how: str) -> bytes:
    tree = copy.deepcopy(tree)
    if how == "unsorted":
        return json.dumps(dict(reversed(list(tree.items()))), separators=(",", ":")).encode()
    if how == "spaces":
        return json.dumps(tree, sort_keys=True).encode()
    if how == "int_as_float":
        tree["network"]["compression"]["level"] = float(tree["network"]["compression"]["level"])
    elif how == "float_as_int":
        detection = tree["byzantine"]["failure_detection"]
        detection["phi_suspect_threshold"] = int(detection["phi_suspect_threshold"])
    elif how == "dropped":
        del tree["metadata"]["config_version"]
    elif how == "escaped":
        written = orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)
        return written.replace(b"butterfly", b"butt\\u0065rfly")
    elif how == "null":
        tree["network"]["compression"]["level"] = None
    return orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=120, deadline=None)
@given(level=st.integers(1, 19), how=PERTURBATIONS)
def test_the_canonical_form_check_beside_a_head_is_the_whole_encoding(level: int, how: str) -> None:
    head = _document(3, 60_000)
    assert documents.check_cluster_document(head, None) is None  # its neutral build is kept
    head_build = documents._NEUTRAL_BUILDS[head]
    tree = orjson.loads(head)
    tree["network"]["compression"]["level"] = level
    document = _perturbed(tree, how)
    try:
        proposed = document_reading.reading(document)
        changed = document_reading.changed_paths(head, document)
        candidate = head_build.with_values({p: proposed.value(p) for p in changed})
    except (ValueError, ConfigError):
        return  # refused before the canonical form is looked at
    whole = canonical_bytes(candidate.model, cluster_only=True) == document
    assert documents._in_canonical_form(document, candidate, head) == whole
    assert whole == (how == "none")
