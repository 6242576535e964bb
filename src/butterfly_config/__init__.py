"""butterfly-config: typed, layered, validated configuration for Butterfly nodes.

The public names are imported lazily (module `__getattr__`), so `import
butterfly_config` and `butterfly --help` cost nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from butterfly_config.config import ButterflyConfig, ConfigChange
    from butterfly_config.errors import (
        ButterflyError,
        ConfigError,
        ConfigIOError,
        ConfigIssue,
        ConfigSyntaxError,
        IncludeCycleError,
        UsageError,
        ValidationFailed,
    )
    from butterfly_config.loader import ConfigLoader
    from butterfly_config.sources.layer import Source
    from butterfly_config.validation import ConfigValidator, ValidationContext, ValidationRule

_EXPORTS: dict[str, str] = {
    "ButterflyConfig": "butterfly_config.config",
    "ConfigChange": "butterfly_config.config",
    "ConfigLoader": "butterfly_config.loader",
    "Source": "butterfly_config.sources.layer",
    "ConfigValidator": "butterfly_config.validation",
    "ValidationContext": "butterfly_config.validation",
    "ValidationRule": "butterfly_config.validation",
    "ButterflyError": "butterfly_config.errors",
    "ConfigError": "butterfly_config.errors",
    "ConfigIOError": "butterfly_config.errors",
    "ConfigIssue": "butterfly_config.errors",
    "ConfigSyntaxError": "butterfly_config.errors",
    "IncludeCycleError": "butterfly_config.errors",
    "UsageError": "butterfly_config.errors",
    "ValidationFailed": "butterfly_config.errors",
}

__all__ = [
    "ButterflyConfig",
    "ButterflyError",
    "ConfigChange",
    "ConfigError",
    "ConfigIOError",
    "ConfigIssue",
    "ConfigLoader",
    "ConfigSyntaxError",
    "ConfigValidator",
    "IncludeCycleError",
    "Source",
    "UsageError",
    "ValidationContext",
    "ValidationFailed",
    "ValidationRule",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'butterfly_config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
