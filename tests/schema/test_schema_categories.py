"""Scope and mutability of every option, including the contract's fixed categories."""

from __future__ import annotations

import pytest

from butterfly_config.schema.options import OptionInfo
from butterfly_config.schema.registry import options

CONTRACT: dict[str, tuple[str, ...]] = {
    "static-critical": (
        "byzantine.f_value",
        "network.coordinator_addr",
        "metadata.config_version",
        "security.tls.enabled",
        "cluster.members",
        "metadata.cluster_name",
    ),
    "static-local": (
        "node.node_id",
        "node.data_dir",
        "resources.gpu.device_ids",
        "network.listen_addr",
        "network.api_addr",
    ),
    "dynamic-consensus": (
        "partition.strategy",
        "scheduling.policy",
        "byzantine.failure_detection.phi_suspect_threshold",
        "byzantine.failure_detection.phi_failed_threshold",
        "observability.metrics.export_interval_secs",
    ),
    "dynamic-local": (
        "observability.logging.level",
        "scheduling.queues.max_queue_depth",
        "resources.memory.max_activation_bytes",
    ),
}

# Whole tables whose options all share one category.
CONTRACT_TABLES: dict[str, str] = {
    "network.compression.": "dynamic-consensus",
    "resources.rate_limits.": "dynamic-local",
    "observability.logging.": "dynamic-local",
}

# Tables of the running protocol: their cluster-wide options are adopted live.
LIVE_PROTOCOL_TABLES = ("byzantine.agreement.", "byzantine.view_change.", "byzantine.reputation.")


def _info(path: str) -> OptionInfo:
    return options()[path]


@pytest.mark.parametrize(
    ("path", "category"),
    [(path, category) for category, paths in CONTRACT.items() for path in paths],
)
def test_contract_category(path: str, category: str) -> None:
    assert _info(path).category == category


@pytest.mark.parametrize(("prefix", "category"), sorted(CONTRACT_TABLES.items()))
def test_contract_tables(prefix: str, category: str) -> None:
    paths = [path for path in options() if path.startswith(prefix)]
    assert paths, prefix
    assert {path: _info(path).category for path in paths} == dict.fromkeys(paths, category)


def test_live_protocol_tables_are_dynamic_when_cluster_wide() -> None:
    for path, info in options().items():
        if path.startswith(LIVE_PROTOCOL_TABLES) and info.scope == "cluster":
            assert info.category == "dynamic-consensus", path


def test_every_option_is_classified_and_described() -> None:
    for path, info in options().items():
        assert info.scope in ("cluster", "node"), path
        assert info.mutability in ("static", "dynamic"), path
        assert info.description and "\n" not in info.description, path
        assert len(info.description) <= 100, path
        assert info.type_label, path


def test_all_four_categories_are_used() -> None:
    used = {info.category for info in options().values()}
    assert used == {"static-critical", "static-local", "dynamic-consensus", "dynamic-local"}


@pytest.mark.parametrize(
    ("suffix", "unit"),
    [("_ms", "ms"), ("_secs", "secs"), ("_seconds", "secs"), ("_bytes", "bytes"),
     ("_mbps", "MB/s"), ("_percent", "percent"), ("_hz", "Hz")],
)
def test_units_follow_option_names(suffix: str, unit: str) -> None:
    named = [path for path in options() if path.endswith(suffix)]
    assert named, suffix
    assert {path: options()[path].unit for path in named} == dict.fromkeys(named, unit)
