"""[scheduling]: how requests are queued and assigned to nodes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import Flag, Fraction, IntPercent, NonNegativeInt, PositiveInt

SchedulingPolicy = Literal["round_robin", "least_loaded", "predictive", "custom"]
BackpressureStrategy = Literal["reject", "slow"]


class QueuesSection(Section):
    """Request queues, priorities and backpressure."""

    max_queue_depth: PositiveInt = option(
        100, scope="node", mutability="dynamic", unit="requests",
        description="Requests queued on this node before new ones are refused.",
    )
    priority_levels: PositiveInt = option(
        3, scope="cluster", mutability="dynamic",
        description="Number of request priorities; 1 means none.",
    )
    queue_timeout_ms: PositiveInt = option(
        60000, scope="cluster", mutability="dynamic", unit="ms",
        description="A request waiting longer than this in a queue is dropped.",
    )
    backpressure_threshold: IntPercent = option(
        80, scope="node", mutability="dynamic", unit="percent",
        description="Queue fill level at which backpressure starts.",
    )
    backpressure_strategy: BackpressureStrategy = option(
        "slow", scope="cluster", mutability="dynamic",
        description="Under backpressure, refuse new requests or slow the senders down.",
    )
    per_client_max_queue: PositiveInt = option(
        10, scope="cluster", mutability="dynamic", unit="requests",
        description="Most queued requests of one client, so none can fill the queue.",
    )


class StragglersSection(Section):
    """Detecting slow nodes and duplicating their work."""

    detection_enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Watch for nodes that fall behind.",
    )
    speculative_execution: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Run a straggler's work on a backup node too and keep the first result.",
    )
    straggler_threshold: Fraction = option(
        0.5, scope="cluster", mutability="dynamic",
        description="A node whose progress is below this fraction of the expected is a straggler.",
    )
    speculation_trigger_ms: PositiveInt = option(
        2000, scope="cluster", mutability="dynamic", unit="ms",
        description="How long a straggler runs before its work is duplicated.",
    )
    max_speculative_tasks: NonNegativeInt = option(
        5, scope="cluster", mutability="dynamic",
        description="Most duplicated tasks at once, to spare the backup nodes.",
    )
    history_window: PositiveInt = option(
        100, scope="node", mutability="dynamic", unit="requests",
        description="Recent requests considered when looking for straggler patterns.",
    )


class PipelineSection(Section):
    """Pipeline parallelism across partitions."""

    enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Overlap the execution of several batches.",
    )
    max_concurrent_batches: PositiveInt = option(
        4, scope="cluster", mutability="dynamic", unit="batches",
        description="Batches in the pipeline at once: more throughput, more memory.",
    )
    batch_size: PositiveInt = option(
        8, scope="cluster", mutability="dynamic", unit="requests",
        description="Requests per inference batch.",
    )
    prefetch_inputs: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Fetch the next batch's inputs while the current one computes.",
    )
    pipeline_depth: NonNegativeInt = option(
        0, scope="cluster", mutability="dynamic", unit="stages",
        description="Pipeline stages; 0 derives them from the model architecture.",
    )


class AssignmentSection(Section):
    """Choosing the node for a piece of work."""

    affinity_enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Prefer nodes that already hold the model.",
    )
    locality_weight: Fraction = option(
        0.7, scope="cluster", mutability="dynamic",
        description="Balance between locality (0.0) and load (1.0) when choosing a node.",
    )
    shuffle_on_failure: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Pick a random node after a failure instead of retrying the same one.",
    )
    sticky_assignment: Flag = option(
        False, scope="cluster", mutability="dynamic",
        description="Send each client's requests to the same node, for cache hits.",
    )
    assignment_cache_ttl: NonNegativeInt = option(
        60, scope="node", mutability="dynamic", unit="secs",
        description="How long a cached assignment stays valid.",
    )


class SchedulingSection(Section):
    """Workload scheduling across the cluster."""

    policy: SchedulingPolicy = option(
        "predictive", scope="cluster", mutability="dynamic",
        description="How work is distributed across nodes.",
    )
    adaptive: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Learn from past assignments to improve later ones.",
    )
    queues: QueuesSection = Field(default_factory=QueuesSection)
    stragglers: StragglersSection = Field(default_factory=StragglersSection)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    assignment: AssignmentSection = Field(default_factory=AssignmentSection)
