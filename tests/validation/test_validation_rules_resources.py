"""Rules on [resources] and [partition]: memory budget, GPU devices, layer bounds."""

from __future__ import annotations

import pytest
from validation_helpers import make_model, paths_of, run_rule, severities_of

GIB = 1 << 30


def test_memory_parts_equal_to_total_pass() -> None:
    assert run_rule("resources.memory-budget", make_model()) == []


def test_memory_parts_above_total_show_gib() -> None:
    model = make_model({"resources.memory.max_checkpoint_bytes": 4 * GIB})
    (issue,) = run_rule("resources.memory-budget", model)
    assert issue.path == "resources.memory.max_total_bytes"
    assert issue.severity == "error"
    assert issue.message == (
        "model 25 GiB + activations 4 GiB + checkpoints 4 GiB = 33 GiB exceeds "
        "max_total_bytes = 32 GiB by 1 GiB"
    )
    assert issue.hint.startswith(f"raise resources.memory.max_total_bytes to at least {33 * GIB}")


def test_oom_reserve_is_outside_the_budget() -> None:
    model = make_model({"resources.memory.oom_reserve_bytes": 8 * GIB})
    assert run_rule("resources.memory-budget", model) == []


def test_gpus_are_not_checked_when_disabled() -> None:
    model = make_model({"resources.gpu.device_ids": [0, 7]})
    assert run_rule("resources.gpu-devices", model, gpu_count=0) == []


@pytest.mark.parametrize(
    ("devices", "gpus", "environment", "expected"),
    [
        ([0, 1], 2, "production", []),
        ([0], 0, "development", ["warning"]),
        ([0], 0, "test", ["warning"]),
        ([0], 0, "staging", ["error"]),
        ([0, 3], 2, "production", ["error"]),
    ],
)
def test_gpu_device_ids_must_exist_severity_by_environment(
    devices: list[int], gpus: int, environment: str, expected: list[str]
) -> None:
    model = make_model({"resources.gpu.enabled": True, "resources.gpu.device_ids": devices})
    issues = run_rule("resources.gpu-devices", model, gpu_count=gpus, environment=environment)
    assert severities_of(issues) == expected


def test_missing_gpu_message_lists_ids_and_what_exists() -> None:
    model = make_model({"resources.gpu.enabled": True, "resources.gpu.device_ids": [0, 2, 3]})
    (issue,) = run_rule("resources.gpu-devices", model, gpu_count=2)
    assert issue.message == "GPU id(s) 2, 3 do not exist: this machine has 2 GPU(s) (ids 0-1)"
    (none,) = run_rule("resources.gpu-devices", model, gpu_count=0)
    assert none.message.endswith("this machine has no GPUs")


def test_gpu_device_list_empty_is_an_error_everywhere() -> None:
    empty = make_model({"resources.gpu.enabled": True, "resources.gpu.device_ids": []})
    (issue,) = run_rule("resources.gpu-devices", empty, gpu_count=4, environment="development")
    assert issue.severity == "error"
    assert issue.message == "GPUs are enabled but no device ids are listed"


@pytest.mark.parametrize(("low", "high", "fails"), [(2, 10, False), (5, 5, False), (11, 10, True)])
def test_layer_bounds_ordered(low: int, high: int, fails: bool) -> None:
    model = make_model(
        {
            "partition.layer_affinity.min_layers_per_partition": low,
            "partition.layer_affinity.max_layers_per_partition": high,
        }
    )
    issues = run_rule("partition.layer-bounds", model)
    assert paths_of(issues) == (
        ["partition.layer_affinity.min_layers_per_partition"] if fails else []
    )
