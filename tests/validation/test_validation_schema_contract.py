"""Rules of the contract that the schema enforces, so validation does not repeat them.

If a schema change drops one of these constraints, this test says which rule
validation must take over.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from validation_helpers import make_model


@pytest.mark.parametrize(
    ("path", "bad", "good"),
    [
        ("byzantine.f_value", 0, 1),
        ("byzantine.checkpoint.interval_tokens", 0, 1),
        ("network.compression.level", 23, 22),
        ("network.compression.level", 0, 1),
        ("resources.cpu.max_cpu_percent", 100.5, 100.0),
        ("resources.cpu.max_cpu_percent", -1.0, 0.0),
        ("resources.gpu.memory_fraction", 1.1, 1.0),
        ("network.retry.jitter_factor", -0.1, 0.0),
        ("observability.tracing.sampling_rate", 2.0, 0.5),
        ("partition.min_communication.balance_tolerance", 1.5, 0.15),
        ("scheduling.assignment.locality_weight", 1.01, 0.7),
        ("partition.strategy", "fastest", "load_balanced"),
        ("metadata.environment", "prod", "production"),
        ("network.listen_addr", "0.0.0.0", "0.0.0.0:7890"),
        ("network.api_addr", "127.0.0.1:70000", "127.0.0.1:8080"),
        ("network.coordinator_addr", "999.1.1.1:7890", "10.0.1.10:7890"),
        ("node.node_id", "node 1/../x", "node-001"),
        ("metadata.cluster_name", "", "main"),
        ("resources.gpu.device_ids", [0, 0], [0, 1]),
    ],
)
def test_schema_refuses_what_validation_does_not_recheck(path: str, bad: Any, good: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        make_model({path: bad})
    assert path.rsplit(".", 1)[-1] in str(refused.value)
    make_model({path: good})
