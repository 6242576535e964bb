"""The built-in rules, in the order they run (and report): section by section, file order."""

from __future__ import annotations

from ..base import ValidationRule
from . import byzantine, cluster, metadata, network, observability, resources, security

BUILTIN_RULES: tuple[ValidationRule, ...] = (
    *metadata.RULES,
    *network.RULES,
    *byzantine.RULES,
    *cluster.RULES,
    *resources.RULES,
    *observability.RULES,
    *security.RULES,
)
