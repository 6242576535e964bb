"""The 0.9 (legacy) -> 1.0.0 migration over the real legacy file and small variants."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from butterfly_config.errors import UsageError
from butterfly_config.migrations import migrate_document, migrate_file, plan
from butterfly_config.migrations.engine import iter_leaves
from butterfly_config.migrations.legacy_0_9 import RULES
from butterfly_config.migrations.rules import Move
from butterfly_config.schema import registry


@pytest.fixture
def legacy(reference_dir: Path) -> Path:
    return reference_dir / "legacy_node_config.toml"


def _leaf(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        node = node[part]
    return node


def _migrate(document: dict[str, Any]):
    return migrate_document(document, "0.9", "1.0.0")


def test_every_legacy_key_is_mapped_or_unmapped_exactly_once(legacy: Path) -> None:
    report = migrate_file(legacy, "legacy", "1.0").report
    inputs = {path for path, _ in iter_leaves(tomllib.loads(legacy.read_text()))}
    mapped = [m.source for m in report.mapped]
    unmapped = [u.source for u in report.unmapped]
    assert set(mapped) | set(unmapped) == inputs
    assert not set(mapped) & set(unmapped)
    assert len(mapped) + len(unmapped) == len(inputs)
    assert all(u.reason for u in report.unmapped)


def test_expected_unmapped_keys_with_reasons(legacy: Path) -> None:
    report = migrate_file(legacy, "0.9", "1.0.0").report
    unmapped = {u.source: u for u in report.unmapped}
    assert set(unmapped) == {
        "cluster.discovery_method", "cluster.seed_nodes", "cluster.quorum_size",
        "model.source_type", "model.source_path", "model.manifest_hash",
        "model.partition_strategy", "resources.max_gpu_memory_gb",
        "timeouts.join_timeout_secs", "timeouts.model_load_timeout_secs",
    }
    assert "f = 2" in unmapped["cluster.quorum_size"].hint
    assert "7 members" in unmapped["cluster.quorum_size"].hint
    assert "[[cluster.members]]" in unmapped["cluster.seed_nodes"].hint
    assert "10.0.1.11:7000" in unmapped["cluster.seed_nodes"].hint
    assert "memory_fraction" in unmapped["resources.max_gpu_memory_gb"].reason
    assert "layer_affinity" in unmapped["model.partition_strategy"].hint


def test_specific_conversions_of_the_legacy_file(legacy: Path) -> None:
    out = migrate_file(legacy, "legacy", "1.0").document
    assert _leaf(out, "node.node_id") == "node-0"
    assert _leaf(out, "node.role") == "compute"
    assert _leaf(out, "network.listen_addr") == "0.0.0.0:7000"
    assert _leaf(out, "network.external_addr") == "10.0.1.10:7000"
    assert _leaf(out, "metadata.cluster_name") == "butterfly-prod"
    assert _leaf(out, "metadata.config_version") == "1.0.0"
    # "1GB" and *_gb are binary, like every size of the reference schema.
    assert _leaf(out, "network.buffers.max_message_size_bytes") == 1024**3
    assert _leaf(out, "resources.memory.max_total_bytes") == 80 * 1024**3
    assert _leaf(out, "resources.cpu.worker_threads") == 64
    assert _leaf(out, "network.compression") == {"enabled": True, "algorithm": "zstd"}
    assert _leaf(out, "byzantine.failure_detection.heartbeat_interval_ms") == 100
    assert "model" not in out and "timeouts" not in out
    assert "cluster" not in out  # seed_nodes cannot become members without ids and keys


def test_every_output_leaf_is_a_schema_option(legacy: Path) -> None:
    out = migrate_file(legacy, "legacy", "1.0").document
    paths = [p for p, _ in iter_leaves(out, lambda p: registry.option_info(p) is not None)]
    assert paths and all(registry.option_info(p) is not None for p in paths)


def test_report_states_the_unit_decision(legacy: Path) -> None:
    report = migrate_file(legacy, "legacy", "1.0").report
    notes = {m.source: m.note for m in report.mapped}
    assert "1 GiB = 1073741824 bytes" in notes["network.max_message_size"]
    assert "GiB" in notes["resources.max_memory_gb"]
    text = report.render()
    assert (
        'network.max_message_size = "1GB" -> network.buffers.max_message_size_bytes = 1073741824'
        in text
    )


def test_every_move_target_is_a_schema_option() -> None:
    for rule in RULES:
        if isinstance(rule, Move) and not rule.expand:
            assert registry.option_info(rule.target) is not None, rule.target
        elif isinstance(rule, Move):
            assert registry.is_section(rule.target), rule.target


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zstd", {"enabled": True, "algorithm": "zstd"}),
        ("lz4", {"enabled": True, "algorithm": "lz4"}),
        ("none", {"enabled": False}),
        (False, {"enabled": False}),
    ],
)
def test_compression_string_becomes_table(value: Any, expected: dict[str, Any]) -> None:
    out = _migrate({"network": {"compression": value}}).document
    assert out["network"]["compression"] == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [("1GB", 2**30), ("512MB", 512 * 2**20), ("2 GiB", 2 * 2**30), ("1.5GB", 3 * 2**29),
     (1048576, 1048576)],
)
def test_message_size_units(size: Any, expected: int) -> None:
    out = _migrate({"network": {"max_message_size": size}}).document
    assert out["network"]["buffers"]["max_message_size_bytes"] == expected


@pytest.mark.parametrize(
    ("role", "expected"), [("worker", "compute"), ("coordinator", "coordinator")]
)
def test_role_rename(role: str, expected: str) -> None:
    assert _migrate({"node": {"role": role}}).document["node"]["role"] == expected


def test_unconvertible_values_are_reported_not_dropped() -> None:
    result = _migrate({"network": {"max_message_size": "lots", "compression": "gzip"},
                       "node": {"role": "boss"}})
    unmapped = {u.source: u for u in result.report.unmapped}
    assert set(unmapped) == {"network.max_message_size", "network.compression", "node.role"}
    assert "gzip" in unmapped["network.compression"].reason
    assert "boss" in unmapped["node.role"].reason
    assert set(result.document) == {"metadata"}


@pytest.mark.parametrize(("path", "value", "says"), [
    ("resources.max_memory_gb", float("inf"), "a size must be a finite number"),
    ("resources.max_memory_gb", float("nan"), "a size must be a finite number"),
    ("resources.max_memory_gb", 1e308, "more bytes than a 64-bit count holds"),
    ("resources.max_memory_gb", 2**40, "more bytes than a 64-bit count holds"),
    ("network.max_message_size", "99999999999TB", "more bytes than a 64-bit count holds"),
])
def test_sizes_no_64_bit_count_holds_are_reported(path: str, value: Any, says: str) -> None:
    # inf and 1e308 once escaped as an OverflowError traceback
    section, key = path.split(".")
    result = _migrate({section: {key: value}})
    unmapped = {u.source: u for u in result.report.unmapped}
    assert says in unmapped[path].reason


def test_unknown_keys_are_unmapped_with_suggestion() -> None:
    result = _migrate({"node": {"id": "n1", "favourite_colour": "blue"},
                       "network": {"listen_adr": "0.0.0.0:1"}})
    unmapped = {u.source: u for u in result.report.unmapped}
    assert set(unmapped) == {"node.favourite_colour", "network.listen_adr"}
    assert "network.listen_addr" in unmapped["network.listen_adr"].hint


def test_keys_already_in_the_new_layout_are_kept() -> None:
    result = _migrate({"node": {"id": "n1", "data_dir": "/srv/b"},
                       "observability": {"logging": {"filters": {"hyper": "warn"}}}})
    assert result.document["node"] == {"node_id": "n1", "data_dir": "/srv/b"}
    assert result.document["observability"]["logging"]["filters"] == {"hyper": "warn"}
    assert not result.report.unmapped


def test_two_keys_for_one_target_keep_the_first_and_report_the_second() -> None:
    result = _migrate({"node": {"id": "old", "node_id": "new"}})
    assert result.document["node"]["node_id"] == "old"
    [clash] = result.report.unmapped
    assert clash.source == "node.node_id" and "already set" in clash.reason


def test_input_config_version_is_superseded_and_reported() -> None:
    result = _migrate({"metadata": {"config_version": "0.9.1"}})
    assert result.document["metadata"]["config_version"] == "1.0.0"
    [superseded] = result.report.unmapped
    assert superseded.source == "metadata.config_version"


@pytest.mark.parametrize(("quorum", "f"), [(3, 1), (5, 2), (7, 3), (4, 1)])
def test_quorum_hint_names_implied_f(quorum: int, f: int) -> None:
    [item] = _migrate({"cluster": {"quorum_size": quorum}}).report.unmapped
    assert f"f = {f}" in item.hint
    assert f"{3 * f + 1} members" in item.hint


@pytest.mark.parametrize(("src", "dst"), [("0.9", "2.0.0"), ("1.0.0", "0.9"), ("0.8", "1.0")])
def test_unknown_version_pairs_list_supported_steps(src: str, dst: str) -> None:
    with pytest.raises(UsageError) as info:
        plan(src, dst)
    assert "0.9 -> 1.0.0" in info.value.hint


@pytest.mark.parametrize(
    ("src", "dst"), [("legacy", "1.0"), ("0.9", "1.0.0"), ("LEGACY", "v1.0.0")]
)
def test_version_aliases(src: str, dst: str) -> None:
    [step] = plan(src, dst)
    assert (step.from_version, step.to_version) == ("0.9", "1.0.0")


def test_written_text_carries_header_and_unmapped_comments(legacy: Path) -> None:
    result = migrate_file(legacy, "legacy", "1.0")
    assert result.text.startswith("# Migrated by `butterfly config migrate`")
    for item in result.report.unmapped:
        assert f"#   {item.source} = " in result.text
    assert tomllib.loads(result.text) == result.document
