"""Rules on [resources] and [partition]: memory budget, GPU devices, layer bounds.

Fractions, percentages (`max_cpu_percent` in [0, 100]) and enumerations are
schema constraints.
"""

from __future__ import annotations

from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..units import human_bytes


@rule("resources.memory-budget")
def memory_parts_fit_total(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Model + activations + checkpoints must fit in max_total_bytes (oom_reserve is extra)."""
    memory = config.resources.memory
    parts = memory.max_model_bytes + memory.max_activation_bytes + memory.max_checkpoint_bytes
    if parts > memory.max_total_bytes:
        yield ConfigIssue(
            path="resources.memory.max_total_bytes",
            message=(
                f"model {human_bytes(memory.max_model_bytes)} + activations "
                f"{human_bytes(memory.max_activation_bytes)} + checkpoints "
                f"{human_bytes(memory.max_checkpoint_bytes)} = {human_bytes(parts)} "
                f"exceeds max_total_bytes = {human_bytes(memory.max_total_bytes)} "
                f"by {human_bytes(parts - memory.max_total_bytes)}"
            ),
            hint=(
                f"raise resources.memory.max_total_bytes to at least {parts}, or lower "
                "max_model_bytes, max_activation_bytes or max_checkpoint_bytes"
            ),
        )


@rule("resources.gpu-devices")
def gpu_devices_exist(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """With GPUs enabled, every listed device id must exist on this machine.

    Distinct ids are a schema constraint; the GPU count is probed only here,
    only when GPUs are enabled, and once per process.
    """
    gpu = config.resources.gpu
    if not gpu.enabled:
        return
    if not gpu.device_ids:
        yield ConfigIssue(
            path="resources.gpu.device_ids",
            message="GPUs are enabled but no device ids are listed",
            hint="list the GPU indices to use, e.g. device_ids = [0], or set enabled = false",
        )
        return
    available = ctx.available_gpus()
    missing = sorted(device_id for device_id in gpu.device_ids if device_id >= available)
    if missing:
        have = "no GPUs" if available == 0 else f"{available} GPU(s) (ids 0-{available - 1})"
        yield ConfigIssue(
            path="resources.gpu.device_ids",
            message=(
                f"GPU id(s) {', '.join(map(str, missing))} do not exist: this machine has {have}"
            ),
            hint=(
                "list only ids reported by `nvidia-smi --query-gpu=index --format=csv`, "
                "or set resources.gpu.enabled = false on machines without GPUs"
            ),
            severity=ctx.machine_severity(config),
        )


@rule("partition.layer-bounds")
def layer_bounds_ordered(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """A partition's minimum layer count cannot exceed its maximum."""
    affinity = config.partition.layer_affinity
    if affinity.min_layers_per_partition > affinity.max_layers_per_partition:
        yield ConfigIssue(
            path="partition.layer_affinity.min_layers_per_partition",
            message=(
                f"min_layers_per_partition ({affinity.min_layers_per_partition}) is larger than "
                f"max_layers_per_partition ({affinity.max_layers_per_partition})"
            ),
            hint="make min_layers_per_partition <= max_layers_per_partition",
        )


RULES = (memory_parts_fit_total, gpu_devices_exist, layer_bounds_ordered)
