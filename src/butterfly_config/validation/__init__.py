"""Validation of a merged configuration: the rule registry, the built-in rules, quorum math.

The schema refuses values that cannot mean anything on their own (types,
ranges, enumerations, the host:port format, `f_value >= 1`,
`checkpoint.interval_tokens > 0`, fractions, `max_cpu_percent`); the rules
here check what needs more than one option, the machine, or the environment.
"""

from __future__ import annotations

from .base import FunctionRule, RuleFunction, ValidationRule, rule
from .context import ENVIRONMENTS, ValidationContext
from .quorum import max_faults, min_members, quorum_size
from .registry import ConfigValidator

__all__ = [
    "ENVIRONMENTS",
    "ConfigValidator",
    "FunctionRule",
    "RuleFunction",
    "ValidationContext",
    "ValidationRule",
    "max_faults",
    "min_members",
    "quorum_size",
    "rule",
]
