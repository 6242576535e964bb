"""What a validation run knows about its surroundings: environment, machine, files.

The same document is stricter in staging and production than on a laptop:
facts about the machine (a file, a GPU, a key that is not there) are errors
where the node is meant to run for real, and warnings in development and test,
where the operator often validates a file written for another machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from butterfly_config.errors import Severity, UsageError
from butterfly_config.gpu import machine_gpu_count
from butterfly_config.paths import resolve_path

if TYPE_CHECKING:
    from butterfly_config.schema.root import ConfigModel

ENVIRONMENTS = ("production", "staging", "development", "test")
STRICT_ENVIRONMENTS = frozenset({"production", "staging"})


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """Inputs of a validation run besides the document itself.

    - `environment`: None uses the document's `metadata.environment`.
    - `base_dir`: relative paths in the document resolve against it (the
      directory of the config file); None resolves them against the current
      directory, as the node process would.
    - `gpu_count`: None probes the machine on first need (cached per process);
      tests and remote checks pass the number.
    - `check_paths`: False skips every filesystem look-up (for validating a
      document meant for another machine, e.g. a proposal from a peer).
    """

    environment: str | None = None
    base_dir: Path | None = None
    gpu_count: int | None = None
    check_paths: bool = True

    def __post_init__(self) -> None:
        if self.environment is not None and self.environment not in ENVIRONMENTS:
            raise UsageError(
                f"unknown environment '{self.environment}'",
                hint=f"use one of: {', '.join(ENVIRONMENTS)}",
            )
        if self.base_dir is not None and not isinstance(self.base_dir, Path):
            object.__setattr__(self, "base_dir", Path(os.fspath(self.base_dir)))
        if self.gpu_count is not None and self.gpu_count < 0:
            raise UsageError(f"gpu_count cannot be negative, got {self.gpu_count}")

    def environment_of(self, config: ConfigModel) -> str:
        """The environment in force: the context's, else the document's."""
        return self.environment or config.metadata.environment

    def is_strict(self, config: ConfigModel) -> bool:
        """True in staging and production, where machine problems are errors."""
        return self.environment_of(config) in STRICT_ENVIRONMENTS

    def machine_severity(self, config: ConfigModel) -> Severity:
        """Severity of a missing file, GPU or key in this environment."""
        return "error" if self.is_strict(config) else "warning"

    def available_gpus(self) -> int:
        """GPUs this node can use: the context's number, else the machine's."""
        if self.gpu_count is not None:
            return self.gpu_count
        return machine_gpu_count()

    def resolve_path(self, raw: str) -> str:
        """`raw` as the node will open it (`paths.resolve_path` from `base_dir`)."""
        return resolve_path(raw, str(self.base_dir) if self.base_dir is not None else None)
