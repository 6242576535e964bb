"""A committed cluster document laid over a node's own configuration."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from butterfly_config.config import ButterflyConfig
from butterfly_config.loader import ConfigLoader
from butterfly_config.node import document_reading, documents


@pytest.fixture(scope="module")
def base(reference_dir: Path) -> ButterflyConfig:
    development = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}  # no key/cert files here
    return ConfigLoader().add_file(reference_dir / "config_schema.toml").set_environ(
        development).load()


def with_option(document: bytes, section: tuple[str, ...], key: str, value: object) -> bytes:
    tree = orjson.loads(document)
    node = tree
    for name in section:
        node = node[name]
    node[key] = value
    return orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)


def test_only_the_options_the_document_changes_come_from_the_revision(
        base: ButterflyConfig) -> None:
    level = base.model.network.compression.level
    document = with_option(documents.document_of(base), ("network", "compression"),
                           "level", level + 1)
    applied = documents.apply_document(base, document, {}, revision=5)
    assert applied.model.network.compression.level == level + 1
    changed = applied.provenance("network.compression.level")
    assert (changed.kind, changed.name) == ("runtime", "revision 5")
    # a cluster option the document leaves as the file has it keeps the file as its source
    untouched = applied.provenance("metadata.cluster_name")
    assert untouched.kind == "file" and untouched.name.endswith("config_schema.toml")
    assert untouched.line == 22
    assert documents.document_hash(document) == applied.cluster_hash


def test_the_result_equals_laying_every_cluster_value_over_the_base(
        base: ButterflyConfig) -> None:
    document = with_option(documents.document_of(base), ("metadata",), "cluster_name", "other")
    applied = documents.apply_document(base, document, {}, revision=2)
    everything = base.with_values(document_reading.cluster_values(document), revision=2)
    assert applied == everything
    assert applied.cluster_hash == everything.cluster_hash == documents.document_hash(document)


def test_values_of_another_json_type_are_not_taken_as_equal() -> None:
    same = document_reading.same_value
    assert same({"a": [1, 2.5, "x"]}, {"a": [1, 2.5, "x"]})
    assert not same(1, 1.0) and not same(1, True) and not same(0, False)
    assert not same([1], [1.0]) and not same({"a": 1}, {"a": 1, "b": 2})
    assert not same(None, 0)


def test_a_base_without_a_documents_option_value_still_gets_it(base: ButterflyConfig) -> None:
    assert documents.differing_from(base, {"no.such.option": 3}) == {"no.such.option": 3}
    own = document_reading.cluster_values(documents.document_of(base))
    assert documents.differing_from(base, own) == {}
