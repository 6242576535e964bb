"""Validation of a merged configuration: the rule registry, the built-in rules, quorum math.

The schema refuses values that cannot mean anything on their own (types,
ranges, enumerations, the host:port format, `f_value >= 1`,
`checkpoint.interval_tokens > 0`, fractions, `max_cpu_percent`); the rules
here check what needs more than one option, the machine, or the environment.

Severity decisions:
- Facts about this machine (a file, GPU or key that is not there) are errors
  in staging/production and warnings in development/test.
- A credential that is not configured at all (encryption at rest without
  key_file, api_key auth without api_key_file) is an error everywhere.
- `signing.verification = "none"` and an API without authentication
  (`require_auth = false` or `auth_method = "none"`) are errors in production,
  warnings in staging (visible before promotion), silent otherwise.
- An empty member list (standalone) is a warning, and so are cluster-size
  checks that depend on it (the fast-path quorum of a one-member cluster).
- A compression level set to a non-default value for snappy/none is a warning
  (it has no effect); lz4 levels above 12 are errors even while compression
  is disabled, since enabling it is a one-option change.
- Advice that is not a contradiction (coordinator_addr matching no member,
  this node missing from the members, a view-change timeout not longer than
  the agreement phases) is a warning.

Validating a document from a peer or for another machine: pass
`ValidationContext(check_paths=False, gpu_count=...)` so the result does not
depend on this machine's files and devices.
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
