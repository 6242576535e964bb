"""[resources]: limits on memory, CPU, GPU, disk and request rates of this node."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import DeviceIds, Flag, Fraction, Multiplier, NonNegativeInt, Percent, PositiveInt

Enforcement = Literal["soft", "hard", "none"]
CpuPriority = Literal["normal", "high", "realtime"]
MixedPrecisionDtype = Literal["fp16", "bf16"]
IoScheduler = Literal["cfq", "deadline", "noop", "bfq"]
RateLimitAlgorithm = Literal["token_bucket", "leaky_bucket", "fixed_window"]


class MemorySection(Section):
    """Memory budgets; model + activations + checkpoints must fit in the total."""

    max_total_bytes: PositiveInt = option(
        34359738368, scope="node", mutability="dynamic", unit="bytes",
        description="Total memory this node may use.",
    )
    max_model_bytes: NonNegativeInt = option(
        26843545600, scope="node", mutability="dynamic", unit="bytes",
        description="Memory for model weights.",
    )
    max_activation_bytes: NonNegativeInt = option(
        4294967296, scope="node", mutability="dynamic", unit="bytes",
        description="Memory for activations of in-flight requests.",
    )
    max_checkpoint_bytes: NonNegativeInt = option(
        3221225472, scope="node", mutability="dynamic", unit="bytes",
        description="Memory for checkpoints.",
    )
    oom_reserve_bytes: NonNegativeInt = option(
        536870912, scope="node", mutability="dynamic", unit="bytes",
        description="Memory held back, outside the total, to handle running out gracefully.",
    )
    pooling_enabled: Flag = option(
        True, scope="node", mutability="static",
        description="Reuse allocations across requests through memory pools.",
    )
    small_pool_size: NonNegativeInt = option(
        100, scope="node", mutability="static", unit="buffers",
        description="Buffers pooled for allocations under 1 MiB.",
    )
    large_pool_size: NonNegativeInt = option(
        20, scope="node", mutability="static", unit="buffers",
        description="Buffers pooled for allocations over 1 MiB.",
    )
    huge_pages: Flag = option(
        False, scope="node", mutability="static",
        description="Back allocations with huge pages (the system must provide them).",
    )
    prefault: Flag = option(
        True, scope="node", mutability="static",
        description="Touch every page when allocating, so inference takes no page faults.",
    )


class CpuSection(Section):
    """CPU threads, limits and placement."""

    worker_threads: NonNegativeInt = option(
        0, scope="node", mutability="static", unit="threads",
        description="Worker threads; 0 uses one per physical core.",
    )
    max_cpu_percent: Percent = option(
        90.0, scope="node", mutability="dynamic", unit="percent",
        description="Highest CPU utilization this node allows itself.",
    )
    affinity_enabled: Flag = option(
        True, scope="node", mutability="static",
        description="Pin worker threads to CPU cores.",
    )
    numa_aware: Flag = option(
        True, scope="node", mutability="static",
        description="Allocate memory on the NUMA node of the thread using it.",
    )
    priority: CpuPriority = option(
        "normal", scope="node", mutability="dynamic",
        description="Scheduling priority of the process; realtime needs privileges.",
    )
    turbo_boost: Flag = option(
        True, scope="node", mutability="static",
        description="Let the CPU exceed its base frequency (x86).",
    )


class GpuSection(Section):
    """GPU devices and how they are used; set up once when the node starts."""

    enabled: Flag = option(
        False, scope="node", mutability="static",
        description="Run inference on GPUs.",
    )
    device_ids: DeviceIds = option(
        (0,), scope="node", mutability="static",
        description="Indices of the GPUs this node uses.",
    )
    memory_fraction: Fraction = option(
        0.9, scope="node", mutability="static",
        description="Share of each GPU's memory to use; the rest is left to the system.",
    )
    tensor_cores: Flag = option(
        True, scope="node", mutability="static",
        description="Use tensor cores for matrix operations (NVIDIA).",
    )
    mixed_precision: Flag = option(
        True, scope="node", mutability="static",
        description="Compute in 16-bit floating point where it is safe.",
    )
    mixed_precision_dtype: MixedPrecisionDtype = option(
        "bf16", scope="node", mutability="static",
        description="16-bit type used for mixed precision.",
    )
    cuda_streams: PositiveInt = option(
        4, scope="node", mutability="static", unit="streams",
        description="CUDA streams per GPU; more allow more concurrency.",
    )
    cuda_graphs: Flag = option(
        True, scope="node", mutability="static",
        description="Capture and replay CUDA graphs for repeated work.",
    )
    memory_pool_enabled: Flag = option(
        True, scope="node", mutability="static",
        description="Pre-allocate a GPU memory pool.",
    )


class DiskSection(Section):
    """Disk bandwidth and caching."""

    max_read_mbps: PositiveInt = option(
        1000, scope="node", mutability="dynamic", unit="MB/s",
        description="Highest disk read bandwidth.",
    )
    max_write_mbps: PositiveInt = option(
        500, scope="node", mutability="dynamic", unit="MB/s",
        description="Highest disk write bandwidth.",
    )
    cache_size_bytes: NonNegativeInt = option(
        10737418240, scope="node", mutability="dynamic", unit="bytes",
        description="Size of the disk read cache.",
    )
    prefetch_enabled: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Read ahead data that is likely needed next.",
    )
    io_scheduler: IoScheduler | None = option(
        None, scope="node", mutability="static",
        description="Linux I/O scheduler to request; the system's choice if unset.",
        example="deadline",
    )
    direct_io: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Bypass the page cache for large transfers.",
    )


class RateLimitsSection(Section):
    """Request and token rate limits of this node."""

    max_requests_per_sec: PositiveInt = option(
        100, scope="node", mutability="dynamic", unit="requests/s",
        description="Most inference requests accepted per second.",
    )
    max_tokens_per_sec: PositiveInt = option(
        10000, scope="node", mutability="dynamic", unit="tokens/s",
        description="Most tokens processed per second.",
    )
    burst_multiplier: Multiplier = option(
        2.0, scope="node", mutability="dynamic",
        description="Short bursts may reach this multiple of the base rate.",
    )
    algorithm: RateLimitAlgorithm = option(
        "token_bucket", scope="node", mutability="dynamic",
        description="Rate limiting algorithm.",
    )
    per_client_enabled: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Also limit each client separately.",
    )
    per_client_requests_per_sec: PositiveInt = option(
        10, scope="node", mutability="dynamic", unit="requests/s",
        description="Most requests per second from one client.",
    )


class ResourcesSection(Section):
    """Resource limits of this node."""

    enforcement: Enforcement = option(
        "hard", scope="node", mutability="dynamic",
        description="What happens at a limit: warn (soft), refuse (hard) or nothing (none).",
    )
    reservation_percent: Percent = option(
        10.0, scope="node", mutability="dynamic", unit="percent",
        description="Share of resources kept free for the system.",
    )
    memory: MemorySection = Field(default_factory=MemorySection)
    cpu: CpuSection = Field(default_factory=CpuSection)
    gpu: GpuSection = Field(default_factory=GpuSection)
    disk: DiskSection = Field(default_factory=DiskSection)
    rate_limits: RateLimitsSection = Field(default_factory=RateLimitsSection)
