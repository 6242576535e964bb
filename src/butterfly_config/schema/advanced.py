"""[advanced]: low-level tuning that can trade safety for speed."""

from __future__ import annotations

from typing import Literal

from .base import Section
from .options import option
from .types import Flag, NonEmptyStr, PositiveInt

Allocator = Literal["system", "jemalloc", "mimalloc"]


class AdvancedSection(Section):
    """Expert settings; defaults are safe."""

    experimental_features: Flag = option(
        False, scope="cluster", mutability="static",
        description="Turn on features that are not yet stable.",
    )
    panic_on_error: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Stop the process on an unrecoverable error instead of degrading gracefully.",
    )
    unsafe_optimizations: Flag = option(
        False, scope="node", mutability="static",
        description="Allow optimizations that may break safety guarantees.",
    )
    allocator: Allocator = option(
        "system", scope="node", mutability="static",
        description="Memory allocator of the process.",
    )
    worker_stack_size_bytes: PositiveInt = option(
        2097152, scope="node", mutability="static", unit="bytes",
        description="Stack size of each worker thread.",
    )
    enable_core_dumps: Flag = option(
        False, scope="node", mutability="dynamic",
        description="Write a core dump when the process crashes.",
    )
    core_dump_dir: NonEmptyStr | None = option(
        None, scope="node", mutability="static",
        description="Where core dumps are written; the system's location if unset.",
        example="/var/crash/butterfly",
    )
