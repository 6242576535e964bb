"""Properties over generated documents: no rule crashes; the quorum rule matches the math."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from validation_helpers import make_model

from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext, min_members

HOSTS = st.sampled_from(
    ["0.0.0.0", "127.0.0.1", "localhost", "10.0.0.1", "[::]", "[::1]", "[fe80::1%eth0]",
     "node-1.example", "LOCALHOST"]
)
PORTS = st.sampled_from([1, 7890, 8080, 9090, 65535])
ADDRESSES = st.builds(lambda host, port: f"{host}:{port}", HOSTS, PORTS)
KEYS = st.sampled_from(["a2V5LTE=", "a2V5LTI=", "/keys/x.pub", "keys/y.pem", "not base64!"])
MEMBERS = st.lists(
    st.fixed_dictionaries(
        {
            "node_id": st.sampled_from(["n1", "n2", "n3", "n4", "n5"]),
            "addr": ADDRESSES,
            "api_addr": ADDRESSES,
            "public_key": KEYS,
        }
    ),
    max_size=8,
)
CTX = ValidationContext(environment="production", gpu_count=1, check_paths=False)


def _model(overrides: dict[str, Any], members: list[dict[str, str]]) -> ConfigModel:
    try:
        return make_model(overrides, cluster={"members": members})
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    listen=ADDRESSES,
    api=ADDRESSES,
    metrics=ADDRESSES,
    coordinator=ADDRESSES,
    members=MEMBERS,
    f=st.integers(1, 4),
    fast=st.integers(0, 10),
    endpoint=st.text(max_size=40),
    level=st.integers(1, 22),
    algorithm=st.sampled_from(["none", "lz4", "zstd", "snappy"]),
    memory=st.lists(st.integers(0, 1 << 40), min_size=4, max_size=4),
)
def test_no_rule_crashes_on_any_valid_document(
    listen: str, api: str, metrics: str, coordinator: str, members: list[dict[str, str]],
    f: int, fast: int, endpoint: str, level: int, algorithm: str, memory: list[int],
) -> None:
    model = _model(
        {
            "network.listen_addr": listen,
            "network.api_addr": api,
            "observability.metrics.listen_addr": metrics,
            "network.coordinator_addr": coordinator,
            "byzantine.f_value": f,
            "byzantine.agreement.fast_path_quorum": fast,
            "observability.tracing.endpoint": endpoint or "x",
            "network.compression.level": level,
            "network.compression.algorithm": algorithm,
            "resources.memory.max_total_bytes": memory[0] + 1,
            "resources.memory.max_model_bytes": memory[1],
            "resources.memory.max_activation_bytes": memory[2],
            "resources.memory.max_checkpoint_bytes": memory[3],
        },
        members,
    )
    issues = ConfigValidator().validate(model, CTX)
    builtin = {r.name for r in ConfigValidator.default_rules()}
    for issue in issues:
        assert issue.rule in builtin
        assert not issue.message.startswith("validation rule "), issue.message
        assert issue.message and issue.hint


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 16), f=st.integers(1, 5))
def test_cluster_size_error_exactly_when_members_are_too_few(n: int, f: int) -> None:
    members = [
        {"node_id": f"n{i}", "addr": f"10.0.0.{i + 1}:7890", "api_addr": f"10.0.0.{i + 1}:8080",
         "public_key": f"a2V5LX{i:02d}="}
        for i in range(n)
    ]
    model = make_model({"byzantine.f_value": f}, cluster={"members": members})
    rule_issues = [i for i in ConfigValidator().validate(model, CTX)
                   if i.rule == "byzantine.cluster-size"]
    expected = [] if n >= min_members(f) else ["warning" if n == 0 else "error"]
    assert [i.severity for i in rule_issues] == expected
