"""Rules on [network]: listener conflicts, message size, timeouts, compression, backoff."""

from __future__ import annotations

import pytest
from validation_helpers import make_model, paths_of, run_rule

from butterfly_config.validation.units import human_bytes


def test_default_listeners_do_not_conflict() -> None:
    assert run_rule("network.address-conflict", make_model()) == []


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"network.listen_addr": "0.0.0.0:8080"}, "network.api_addr"),
        ({"network.api_addr": "localhost:7890", "network.listen_addr": "127.0.0.1:7890"},
         "network.api_addr"),
        ({"observability.metrics.listen_addr": "127.0.0.1:7890"},
         "observability.metrics.listen_addr"),
        ({"observability.metrics.listen_addr": "[::]:8080"}, "observability.metrics.listen_addr"),
    ],
)
def test_listeners_sharing_a_port_on_overlapping_hosts_conflict(
    overrides: dict[str, str], path: str
) -> None:
    (issue,) = run_rule("network.address-conflict", make_model(overrides))
    assert issue.path == path
    assert issue.severity == "error"
    assert "the node cannot bind both" in issue.message


def test_conflict_message_names_both_listeners() -> None:
    (issue,) = run_rule(
        "network.address-conflict", make_model({"network.api_addr": "0.0.0.0:7890"})
    )
    assert issue.message == (
        "'0.0.0.0:7890' uses port 7890, which network.listen_addr '0.0.0.0:7890' "
        "already listens on: the node cannot bind both"
    )


def test_same_port_on_distinct_hosts_or_disabled_metrics_is_fine() -> None:
    distinct = make_model(
        {"network.listen_addr": "10.0.0.1:7890", "network.api_addr": "10.0.0.2:7890"}
    )
    assert run_rule("network.address-conflict", distinct) == []
    metrics_off = make_model(
        {
            "observability.metrics.enabled": False,
            "observability.metrics.listen_addr": "0.0.0.0:7890",
        }
    )
    assert run_rule("network.address-conflict", metrics_off) == []


def test_max_message_size_at_least_one_mib() -> None:
    ok = make_model({"network.buffers.max_message_size_bytes": 1 << 20})
    assert run_rule("network.max-message-size", ok) == []
    small = make_model({"network.buffers.max_message_size_bytes": (1 << 20) - 1})
    (issue,) = run_rule("network.max-message-size", small)
    assert issue.path == "network.buffers.max_message_size_bytes"
    assert issue.message.startswith("1048575 bytes (1023.99 KiB) is below the minimum of 1 MiB")


@pytest.mark.parametrize(("connect", "idle", "fails"), [(5000, 30000, False), (30000, 30000, True),
                                                       (40000, 30000, True)])
def test_connection_timeout_below_idle_timeout(connect: int, idle: int, fails: bool) -> None:
    model = make_model(
        {"network.connection.connection_timeout_ms": connect,
         "network.connection.idle_timeout_ms": idle}
    )
    issues = run_rule("network.connection-timeouts", model)
    assert paths_of(issues) == (["network.connection.connection_timeout_ms"] if fails else [])


@pytest.mark.parametrize(
    ("algorithm", "level", "enabled", "expected"),
    [
        ("zstd", 22, True, []),
        ("zstd", 1, True, []),
        ("lz4", 12, True, []),
        ("lz4", 13, True, ["error"]),
        ("lz4", 22, False, ["error"]),  # latent: enabling compression later must not land it
        ("snappy", 3, True, []),
        ("snappy", 9, True, ["warning"]),
        ("none", 9, True, ["warning"]),
        ("snappy", 9, False, []),
    ],
)
def test_compression_level_fits_the_codec(
    algorithm: str, level: int, enabled: bool, expected: list[str]
) -> None:
    model = make_model(
        {"network.compression.algorithm": algorithm, "network.compression.level": level,
         "network.compression.enabled": enabled}
    )
    issues = run_rule("network.compression-level", model)
    assert [i.severity for i in issues] == expected
    if expected == ["error"]:
        assert issues[0].message == f"level {level} is outside lz4's range 1-12"


def test_retry_backoff_initial_not_above_max() -> None:
    assert run_rule("network.retry-backoff", make_model()) == []
    equal = make_model({"network.retry.initial_backoff_ms": 5000})
    assert run_rule("network.retry-backoff", equal) == []
    above = make_model({"network.retry.initial_backoff_ms": 5001})
    issues = run_rule("network.retry-backoff", above)
    assert paths_of(issues) == ["network.retry.initial_backoff_ms"]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1536, "1.5 KiB"),
     (34359738368, "32 GiB"), (3221225472, "3 GiB"), (1 << 40, "1 TiB")],
)
def test_human_bytes(count: int, text: str) -> None:
    assert human_bytes(count) == text
