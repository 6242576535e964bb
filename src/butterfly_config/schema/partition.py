"""[partition]: how a model's layers are split across nodes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .free_form import AgreedTables
from .options import option
from .types import Flag, Fraction, NonNegativeInt, PositiveInt

PartitionStrategy = Literal["layer_affinity", "min_communication", "load_balanced", "custom"]
GroupingStrategy = Literal["sequential", "interleaved", "optimized"]
GraphAlgorithm = Literal["kernighan_lin", "spectral", "metis", "kahip"]
CostMetric = Literal["volume", "count", "latency"]
EdgeWeight = Literal["tensor_size", "tensor_size_with_frequency", "constant"]
LoadMetric = Literal["flops", "memory", "latency"]
MigrationStrategy = Literal["gradual", "immediate"]


class LayerAffinitySection(Section):
    """Partitions made of consecutive layers."""

    min_layers_per_partition: PositiveInt = option(
        2, scope="cluster", mutability="dynamic", unit="layers",
        description="Fewest layers in one partition.",
    )
    max_layers_per_partition: PositiveInt = option(
        10, scope="cluster", mutability="dynamic", unit="layers",
        description="Most layers in one partition.",
    )
    prefer_attention_boundaries: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Cut preferably at attention-layer boundaries.",
    )
    prefer_residual_boundaries: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Cut preferably at residual-connection boundaries.",
    )
    grouping_strategy: GroupingStrategy = option(
        "sequential", scope="cluster", mutability="dynamic",
        description="How layers are grouped into partitions.",
    )


class MinCommunicationSection(Section):
    """Partitions chosen by a graph cut that minimizes traffic."""

    algorithm: GraphAlgorithm = option(
        "kernighan_lin", scope="cluster", mutability="dynamic",
        description="Graph partitioning algorithm.",
    )
    balance_tolerance: Fraction = option(
        0.15, scope="cluster", mutability="dynamic",
        description="Load imbalance accepted in exchange for less traffic, as a fraction.",
    )
    cost_metric: CostMetric = option(
        "volume", scope="cluster", mutability="dynamic",
        description="What a cut costs: bytes moved, messages sent, or time spent.",
    )
    edge_weight: EdgeWeight = option(
        "tensor_size", scope="cluster", mutability="dynamic",
        description="How the weight of an edge between layers is computed.",
    )
    max_iterations: PositiveInt = option(
        100, scope="cluster", mutability="dynamic",
        description="Iteration limit of the partitioning algorithm.",
    )


class LoadBalancedSection(Section):
    """Partitions that even out compute across nodes."""

    metric: LoadMetric = option(
        "flops", scope="cluster", mutability="dynamic",
        description="What is balanced: compute, memory or latency.",
    )
    rebalance_threshold: Fraction = option(
        0.2, scope="cluster", mutability="dynamic",
        description="Imbalance, as a fraction, above which partitions are rebalanced.",
    )
    hysteresis: Fraction = option(
        0.05, scope="cluster", mutability="dynamic",
        description="Least improvement, as a fraction, that justifies a rebalance.",
    )
    capacity_aware: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Weigh partitions by each node's available resources.",
    )


class DynamicSection(Section):
    """Rebalancing partitions while the cluster runs."""

    enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Rebalance partitions at runtime.",
    )
    rebalance_interval_secs: PositiveInt = option(
        300, scope="cluster", mutability="dynamic", unit="secs",
        description="How often the need to rebalance is checked.",
    )
    cost_threshold: Fraction = option(
        0.1, scope="cluster", mutability="dynamic",
        description="Least expected improvement, as a fraction, that triggers a rebalance.",
    )
    max_migrations_per_interval: NonNegativeInt = option(
        2, scope="cluster", mutability="dynamic",
        description="Most partition moves per interval, to limit churn.",
    )
    migration_strategy: MigrationStrategy = option(
        "gradual", scope="cluster", mutability="dynamic",
        description="Move partitions one by one or all at once.",
    )
    proactive: Flag = option(
        False, scope="cluster", mutability="dynamic",
        description="Rebalance ahead of predicted load changes.",
    )


class PartitionSection(Section):
    """Model partitioning across the cluster."""

    strategy: PartitionStrategy = option(
        "layer_affinity", scope="cluster", mutability="dynamic",
        description="How layers are assigned to nodes.",
    )
    dynamic_repartitioning: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Allow partitions to be recomputed as load changes.",
    )
    cache_size: NonNegativeInt = option(
        100, scope="node", mutability="dynamic", unit="entries",
        description="Partition assignments cached to avoid recomputing them.",
    )
    layer_affinity: LayerAffinitySection = Field(default_factory=LayerAffinitySection)
    min_communication: MinCommunicationSection = Field(default_factory=MinCommunicationSection)
    load_balanced: LoadBalancedSection = Field(default_factory=LoadBalancedSection)
    model_hints: AgreedTables = option(
        default_factory=dict, scope="cluster", mutability="dynamic",
        description=("Per-model overrides: model name -> table of strategy and parameters "
                     "(JSON values)."),
        example={"llama-70b": {"strategy": "layer_affinity", "layers_per_node": 8}},
    )
    dynamic: DynamicSection = Field(default_factory=DynamicSection)
