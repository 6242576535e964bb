"""The node that takes an update keeps the values it was given; every other member
decodes the agreed bytes. Both must hold the same configuration, or the cluster
reports one cluster_hash while its nodes run different values."""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config import ButterflyConfig, ConfigLoader
from butterfly_config.errors import ConfigError
from butterfly_config.node import document_reading, documents
from butterfly_config.sources.toml_writer import key as toml_key
from odd_option_values import ODD_VALUES

SCALARS = (st.none() | st.booleans() | st.text(max_size=8)
           | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([8.0, -0.0, 2.0**53, 2.0**60, 1e300])
           | st.dates() | st.datetimes() | st.times())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3),
                      max_leaves=8)
HINTS = st.dictionaries(st.text(min_size=1, max_size=6),
                        st.dictionaries(st.text(min_size=1, max_size=6), VALUES, max_size=3),
                        max_size=2)
BASE = ButterflyConfig.defaults()


def _exactly(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (8 is not 8.0, nor True)."""
    return document_reading.same_value(a, b)


@settings(max_examples=400, deadline=None)
@given(hints=HINTS)
def test_the_proposer_and_the_members_hold_the_same_free_form_values(
    hints: dict[str, Any]
) -> None:
    try:
        origin = BASE.with_values({"partition.model_hints": hints}, revision=1)
    except ConfigError:
        return  # refused with a message; nothing to agree on
    document = documents.document_of(origin)
    assert documents.check_cluster_document(document, None) is None
    member = documents.apply_document(BASE, document, {}, 1)
    assert _exactly(origin.model.partition.model_hints, member.model.partition.model_hints)
    assert origin.cluster_hash == member.cluster_hash


def test_values_the_agreed_encoding_changed_are_now_refused_or_normalized() -> None:
    # each of these once left the proposer holding another value than its peers
    for value in (float("inf"), 2**70, datetime.date(2026, 1, 2)):
        try:
            BASE.with_values({"partition.model_hints": {"m": {"n": value}}})
        except ConfigError:
            continue
        raise AssertionError(f"{value!r} was accepted")
    origin = BASE.with_values({"partition.model_hints": {"m": {"n": 8.0}}})
    member = documents.apply_document(BASE, documents.document_of(origin), {}, 1)
    assert _exactly(origin.model.partition.model_hints, member.model.partition.model_hints)


CLUSTER_PATHS = sorted(document_reading.cluster_paths())


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(CLUSTER_PATHS), st.sampled_from(ODD_VALUES),
                               min_size=1, max_size=4))
def test_the_proposer_and_the_members_hold_the_same_typed_values(changes: dict[str, Any]) -> None:
    try:
        origin = BASE.with_values(changes, revision=1)
    except ConfigError:
        return
    document = documents.document_of(origin)
    if documents.check_cluster_document(document, None) is not None:
        return  # refused by the deterministic check before anyone applies it
    member = documents.apply_document(BASE, document, {}, 1)
    assert _exactly(origin.model.model_dump(), member.model.model_dump())


@settings(max_examples=400, deadline=None)
@given(hints=HINTS)
def test_what_a_node_holds_is_written_as_toml_and_read_back(
    hints: dict[str, Any], tmp_path_factory: Any
) -> None:
    # the mirror (current.toml) and `config export` write it; an operator may load it
    try:
        config = BASE.with_values({"partition.model_hints": hints})
    except ConfigError:
        return
    file = tmp_path_factory.mktemp("toml") / "node.toml"
    file.write_text(config.to_toml(), encoding="utf-8")
    back = ConfigLoader().add_file(file).set_environ({}).load()
    assert _exactly(config.model.partition.model_hints, back.model.partition.model_hints)


def test_null_and_keys_ending_in_a_newline() -> None:
    # null: JSON sends it, TOML cannot write it (a list holding one crashed the writer)
    for hints in ({"m": {"x": None}}, {"m": {"x": [1, None]}}):
        try:
            BASE.with_values({"partition.model_hints": hints})
        except ConfigError as exc:
            assert "TOML has no null; leave the key out" in exc.errors[0].message
            continue
        raise AssertionError(f"{hints!r} was accepted")
    # "0\n" once passed for a bare key ("$" matches before a final newline)
    assert toml_key("0\n") == '"0\\n"' and toml_key("a-b_1") == "a-b_1"
