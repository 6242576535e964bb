"""Single-option checks of the models: nonsense is refused with a readable message."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from schema_helpers import with_value

from butterfly_config.schema.root import ConfigModel
from butterfly_config.schema.types import Address


def _errors(document: dict[str, Any]) -> dict[str, str]:
    """Dotted path -> message of every error pydantic reports for `document`."""
    with pytest.raises(ValidationError) as caught:
        ConfigModel.model_validate(document)
    return {".".join(str(p) for p in err["loc"]): err["msg"] for err in caught.value.errors()}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("network.protocol", "udp", "Input should be 'quic', 'grpc' or 'tcp'"),
        ("observability.logging.level", "loud", "Input should be 'trace'"),
        ("network.listen_addr", "0.0.0.0", "is not a host:port address"),
        ("network.coordinator_addr", "10.0.1.10:70000", "port 1-65535"),
        ("network.coordinator_addr", "10.0.1.10:0", "port 1-65535"),
        ("network.coordinator_addr", "300.1.1.1:7890", "is not a host:port address"),
        ("network.api_addr", "[not-v6]:8080", "is not a host:port address"),
        ("network.external_addr", "host name:80", "is not a host:port address"),
        ("resources.memory.max_model_bytes", -1, "greater than or equal to 0"),
        ("resources.memory.max_total_bytes", 0, "greater than or equal to 1"),
        ("resources.gpu.memory_fraction", 1.5, "less than or equal to 1"),
        ("observability.tracing.sampling_rate", -0.1, "greater than or equal to 0"),
        ("resources.cpu.max_cpu_percent", 150.0, "less than or equal to 100"),
        ("resources.gpu.device_ids", [0, 1, 0], "each id may appear only once"),
        ("observability.metrics.histograms.queue_depth", [1, 10, 5], "strictly increasing"),
        ("observability.metrics.histograms.request_latency_ms", [], "at least 1 item"),
        ("scheduling.queues.backpressure_threshold", 101, "less than or equal to 100"),
        ("network.compression.level", 23, "less than or equal to 22"),
        ("byzantine.f_value", 0, "greater than or equal to 1"),
        ("network.retry.backoff_multiplier", 0.5, "greater than or equal to 1"),
        ("metadata.config_version", "1.0", "is not a MAJOR.MINOR.PATCH version"),
        ("metadata.operator_email", "nobody", "is not an e-mail address"),
        ("node.node_id", "node 1", "is not a node id"),
        ("node.data_dir", "", "at least 1 character"),
        ("observability.metrics.prefix", "9lives", "cannot start a Prometheus metric name"),
        ("network.connection.max_connections", "many", "valid integer"),
        ("network.connection.tcp_nodelay", "sometimes", "valid boolean"),
        # Numbers and flags are strict: text and booleans are not silently converted.
        ("network.connection.max_connections", True, "valid integer"),
        ("network.connection.max_connections", "1000", "valid integer"),
        ("network.connection.max_connections", 1000.5, "valid integer"),
        ("resources.gpu.memory_fraction", True, "valid number"),
        ("resources.gpu.memory_fraction", "0.5", "valid number"),
        ("network.connection.tcp_nodelay", 1, "valid boolean"),
        ("network.connection.tcp_nodelay", "true", "valid boolean"),
    ],
)
def test_nonsense_is_refused_with_a_readable_message(path: str, value: Any, message: str) -> None:
    errors = _errors(with_value({}, path, value))
    assert list(errors) == [path]
    assert message in errors[path]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("resources.gpu.device_ids", [-1]),
        ("observability.metrics.histograms.queue_depth", [1, -5]),
        ("observability.logging.filters", {"butterfly_comm": "loud"}),
        ("security.tls.cipher_suites", [""]),
        ("include.files", "one.toml"),
    ],
)
def test_nonsense_inside_lists_and_tables_is_refused(path: str, value: Any) -> None:
    errors = _errors(with_value({}, path, value))
    assert all(loc.startswith(path) for loc in errors), errors


def test_every_error_is_reported_not_only_the_first() -> None:
    document = with_value({}, "network.protocol", "udp")
    document = with_value(document, "resources.gpu.memory_fraction", 2.0)
    document = with_value(document, "byzantine.checkpoint.interval_tokens", 0)
    assert set(_errors(document)) == {
        "network.protocol",
        "resources.gpu.memory_fraction",
        "byzantine.checkpoint.interval_tokens",
    }


def test_unknown_keys_are_refused_by_the_models() -> None:
    errors = _errors(with_value({}, "network.conection_timeout_ms", 5))
    assert errors == {"network.conection_timeout_ms": "Extra inputs are not permitted"}


def test_cluster_members_are_checked_field_by_field() -> None:
    member = {"node_id": "node-1", "addr": "bad", "public_key": "AAAA"}
    errors = _errors(with_value({}, "cluster.members", [member]))
    assert set(errors) == {"cluster.members.0.addr", "cluster.members.0.api_addr"}
    assert "host:port" in errors["cluster.members.0.addr"]
    assert errors["cluster.members.0.api_addr"] == "Field required"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("resources.cpu.worker_threads", 0),
        ("scheduling.pipeline.pipeline_depth", 0),
        ("byzantine.agreement.fast_path_quorum", 0),
        ("observability.profiling.profile_duration_secs", 0),
        ("network.connection.connection_pool_size", 0),
        ("resources.gpu.device_ids", []),
        ("byzantine.checkpoint.interval_seconds", 60),
        ("resources.disk.io_scheduler", "bfq"),
        ("resources.cpu.max_cpu_percent", 75),  # an integer where a float belongs
    ],
)
def test_meaningful_edge_values_are_accepted(path: str, value: Any) -> None:
    ConfigModel.model_validate(with_value({}, path, value))


@pytest.mark.parametrize(
    "address",
    ["10.0.1.10:7890", "0.0.0.0:1", "localhost:65535", "node-1.example.com:7890",
     "[::1]:7890", "[2001:db8::1]:443", "[fe80::1%eth0]:7890"],
)
def test_addresses_accepted(address: str) -> None:
    from pydantic import TypeAdapter

    assert TypeAdapter(Address).validate_python(address) == address


def test_models_are_frozen() -> None:
    model = ConfigModel()
    with pytest.raises(ValidationError, match="frozen"):
        model.network.protocol = "tcp"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        model.network = model.network  # type: ignore[misc]
    assert isinstance(model.resources.gpu.device_ids, tuple)
    assert isinstance(model.observability.metrics.histograms.queue_depth, tuple)


def test_lists_are_tuples_after_validation() -> None:
    model = ConfigModel.model_validate(with_value({}, "include.files", ["a.toml", "b.toml"]))
    assert model.include.files == ("a.toml", "b.toml")
