"""The deterministic check of a proposed cluster document (`documents.check_cluster_document`).

Every honest member must reach the same verdict, whether or not it still holds
the build of the head the proposal follows: both paths are compared here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from butterfly_config.config import ButterflyConfig
from butterfly_config.loader import ConfigLoader
from butterfly_config.node import documents


@pytest.fixture(scope="module")
def head(reference_dir: Path) -> bytes:
    development = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}
    config: ButterflyConfig = ConfigLoader().add_file(
        reference_dir / "config_schema.toml").set_environ(development).load()
    return documents.document_of(config)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    documents.check_cluster_document.cache_clear()
    documents._NEUTRAL_BUILDS.clear()
    yield
    documents.check_cluster_document.cache_clear()
    documents._NEUTRAL_BUILDS.clear()


def edited(document: bytes, path: str, value: object) -> bytes:
    tree = orjson.loads(document)
    *sections, key = path.split(".")
    node = tree
    for name in sections:
        node = node.setdefault(name, {})
    node[key] = value
    return orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)


def both_ways(document: bytes, head: bytes) -> tuple[str | None, str | None]:
    """The verdict from defaults (head build not held), then from the head's build."""
    documents.check_cluster_document.cache_clear()
    documents._NEUTRAL_BUILDS.clear()
    cold = documents.check_cluster_document(document, head)
    documents.check_cluster_document.cache_clear()
    documents._NEUTRAL_BUILDS.clear()
    assert documents.check_cluster_document(head, None) is None
    assert head in documents._NEUTRAL_BUILDS
    warm = documents.check_cluster_document(document, head)
    return cold, warm


def test_a_valid_change_passes_either_way_and_its_build_is_kept(head: bytes) -> None:
    proposed = edited(head, "network.compression.level", 7)
    assert both_ways(proposed, head) == (None, None)
    kept = documents._NEUTRAL_BUILDS[proposed]
    assert kept.model.network.compression.level == 7
    assert documents.document_of(kept) == proposed


@pytest.mark.parametrize(("path", "value"), [
    ("network.compression.level", 99),
    ("network.compression.level", "six"),
    ("network.compression.level", 6.0),
    ("network.compression.level", {"deeper": 1}),
    ("byzantine.agreement.prepare_timeout_ms", -1),
])
def test_an_invalid_value_gets_the_same_reason_either_way(
        head: bytes, path: str, value: object) -> None:
    cold, warm = both_ways(edited(head, path, value), head)
    assert cold is not None and path in cold
    assert warm == cold


def test_keys_that_are_not_cluster_options_are_named(head: bytes) -> None:
    for path in ("network.compression.no_such_key", "no_such_section.key"):
        cold, warm = both_ways(edited(head, path, 1), head)
        assert cold == warm
        assert cold is not None and cold.startswith("not cluster-scope options")
    # a node-scope table is not part of the cluster document either
    cold, _ = both_ways(edited(head, "node.node_id", "x"), head)
    assert cold == "not cluster-scope options: node"


def test_a_static_option_change_is_refused(head: bytes) -> None:
    assert "metadata.cluster_name" in documents.static_cluster_paths()
    cold, warm = both_ways(edited(head, "metadata.cluster_name", "another"), head)
    assert cold == warm
    assert cold is not None and "static options changed" in cold and "cluster_name" in cold


def test_the_same_values_in_another_encoding_are_refused(head: bytes) -> None:
    spaced = orjson.dumps(orjson.loads(head), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    changed = edited(head, "network.compression.level", 3)
    unsorted = orjson.dumps(dict(reversed(list(orjson.loads(changed).items()))))
    for document in (spaced, unsorted):
        cold, warm = both_ways(document, head)
        assert cold == warm == "the document is not in canonical form"


def test_garbage_is_not_a_cluster_document(head: bytes) -> None:
    for document in (b"[1, 2]", b"{not json"):
        cold, warm = both_ways(document, head)
        assert cold == warm
        assert cold is not None and cold.startswith("not a cluster document")


def test_only_a_few_builds_are_kept(head: bytes) -> None:
    for level in range(1, 8):
        assert documents.check_cluster_document(
            edited(head, "network.compression.level", level), head) is None
    assert len(documents._NEUTRAL_BUILDS) == documents._NEUTRAL_BUILDS_KEPT
    newest = edited(head, "network.compression.level", 7)
    assert list(documents._NEUTRAL_BUILDS)[-1] == newest
