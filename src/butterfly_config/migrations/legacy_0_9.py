"""Step 0.9 -> 1.0.0: the older, flatter node layout to the current schema.

"0.9" (alias "legacy") is the layout of the cluster-initialization document:
`node.id`, `network.bind_address`, `network.compression = "zstd"`,
`network.max_message_size = "1GB"`, `resources.*_gb`, `[timeouts]`,
`[cluster] seed_nodes / quorum_size` and a `[model]` section.

Unit decision: sizes are binary. "1GB" becomes 1 GiB = 1073741824 bytes and
`max_memory_gb = 80` becomes 80 GiB, the convention of the reference schema
("32GB = 34359738368 bytes"). Each such change says so in the report.
"""

from __future__ import annotations

from typing import Any

from butterfly_config.migrations import target_schema
from butterfly_config.migrations.rules import (
    Assignment,
    MigrationStep,
    Move,
    Unmapped,
    lookup_table,
)
from butterfly_config.migrations.units import describe_bytes, gib_to_bytes, parse_size

COMPRESSION_ALGORITHMS = ("lz4", "zstd", "snappy")

_ROLES = {"worker": "compute", "coordinator": "coordinator", "compute": "compute",
          "observer": "observer"}


def compression_table(value: Any) -> dict[str, Any]:
    """`"zstd"` -> enabled + algorithm; `"none"` (or false) -> disabled."""
    if value is False or value == "none":
        return {"enabled": False}
    if value is True:
        return {"enabled": True}
    if isinstance(value, str) and value in COMPRESSION_ALGORITHMS:
        return {"enabled": True, "algorithm": value}
    known = ", ".join(f'"{name}"' for name in ("none", *COMPRESSION_ALGORITHMS))
    raise ValueError(f"compression {value!r} is not one of {known}")


def size_note(value: Any) -> str:
    """Say how a size string was read, so the binary-units decision is visible."""
    count = parse_size(value)
    return f"{value!r} read in binary units: {describe_bytes(count)} = {count} bytes"


def gib_note(value: Any) -> str:
    count = gib_to_bytes(value)
    return f"GB read as GiB: {value} x 2**30 = {count} bytes"


def quorum_hint(value: Any) -> str:
    """The f a legacy quorum size implies, and what to set instead."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 3:
        return "set byzantine.f_value and list the members in [[cluster.members]]"
    f = (value - 1) // 2
    n = 3 * f + 1
    odd_note = "" if value % 2 == 1 else f" ({value} is even, so it is read as at least 2f+1)"
    return (
        f"quorum_size = {value} = 2f+1 implies f = {f}{odd_note}: set byzantine.f_value = {f} "
        f"and list n >= 3f+1 = {n} members in [[cluster.members]]; the quorum is then "
        f"ceil((n+f+1)/2) = {(n + f + 2) // 2} at n = {n}"
    )


def discovery_hint(value: Any) -> str:
    if value == "static":
        return "static discovery is what 1.0 does: list every peer in [[cluster.members]]"
    return (f"{value!r} discovery has no 1.0 equivalent: list every peer in "
            "[[cluster.members]] (node_id, addr, api_addr, public_key)")


def seed_nodes_hint(value: Any) -> str:
    addresses = ", ".join(str(a) for a in value) if isinstance(value, list) else str(value)
    return (
        f"add one [[cluster.members]] table per peer ({addresses}) with addr, api_addr, its "
        "node_id and its public_key (`butterfly keys generate` prints that line)"
    )


def partition_strategy_hint(value: Any) -> str:
    if value == "layer_range":
        return ('the closest cluster-wide option is partition.strategy = "layer_affinity" '
                "(groups consecutive layers); set it in the cluster's configuration if intended")
    return ("partition.strategy (cluster-wide) chooses the partitioning; "
            "it has no tensor-parallel mode")


def gpu_memory_hint(value: Any) -> str:
    return (
        f"set resources.gpu.memory_fraction = {value} GiB / device memory, "
        f"e.g. {value}/80 = {value / 80:g} on an 80 GiB device"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else "set resources.gpu.memory_fraction to the share of each device's memory to use"
    )


_MODEL_REASON = (
    "the model a node serves (its source, manifest and loading) is not part of the "
    "configuration schema"
)

RULES = (
    Move("node.id", "node.node_id"),
    Move("node.role", "node.role", lookup_table(_ROLES, "role"),
         note='role "worker" is called "compute" in 1.0'),
    Unmapped("cluster.discovery_method",
             "1.0 has no peer discovery: the member list is static", discovery_hint),
    Unmapped("cluster.seed_nodes",
             "1.0 members are tables {node_id, addr, api_addr, public_key}; an address alone "
             "does not identify a member or its key", seed_nodes_hint),
    Move("cluster.cluster_name", "metadata.cluster_name"),
    Unmapped("cluster.quorum_size",
             "1.0 computes the quorum from the member count and byzantine.f_value; it is not "
             "set directly", quorum_hint),
    Unmapped("model", _MODEL_REASON,
             "configure the model with the serving tool that loads it"),
    Unmapped("model.partition_strategy",
             "model partitioning is chosen cluster-wide by partition.strategy, not per node",
             partition_strategy_hint),
    Move("network.bind_address", "network.listen_addr"),
    Move("network.external_address", "network.external_addr"),
    Move("network.max_message_size", "network.buffers.max_message_size_bytes",
         parse_size, note=size_note),
    Move("network.compression", "network.compression", compression_table, expand=True,
         note="a string became the [network.compression] table"),
    Move("resources.max_memory_gb", "resources.memory.max_total_bytes", gib_to_bytes,
         note=gib_note),
    Unmapped("resources.max_gpu_memory_gb",
             "1.0 limits GPU memory as resources.gpu.memory_fraction, a share of each "
             "device's memory; an absolute size cannot become a share without the device size",
             gpu_memory_hint),
    Move("resources.num_cpu_cores", "resources.cpu.worker_threads",
         note="one worker thread per core; 0 means auto-detect in 1.0"),
    Move("timeouts.heartbeat_interval_ms", "byzantine.failure_detection.heartbeat_interval_ms"),
    Unmapped("timeouts.join_timeout_secs",
             "1.0 has no timeout for joining as a whole",
             "the closest option is network.connection.connection_timeout_ms (per connection "
             "attempt, in milliseconds)"),
    Unmapped("timeouts.model_load_timeout_secs", _MODEL_REASON,
             "configure the model loading timeout with the serving tool that loads it"),
)


def step() -> MigrationStep:
    """The 0.9 -> 1.0.0 step, bound to the current schema for kept keys and suggestions."""
    return MigrationStep(
        from_version="0.9",
        to_version="1.0.0",
        title="0.9 (legacy node layout) -> 1.0.0",
        rules=RULES,
        assignments=(Assignment("metadata.config_version", "1.0.0",
                                "the schema version of the migrated file"),),
        keeps=target_schema.is_option,
        suggest=target_schema.suggest,
    )
