"""What a validation rule is, and the decorator that makes one from a function.

A rule has a stable `name` (it appears in every issue it reports, so operators
and scripts can refer to it) and a `check` that yields issues. Rules must be
cheap and deterministic: every node runs the same rules on every proposal, and
a member whose rejection others cannot reproduce is treated as misbehaving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from butterfly_config.errors import ConfigIssue

from .context import ValidationContext

if TYPE_CHECKING:
    from butterfly_config.schema.root import ConfigModel

RuleFunction = Callable[["ConfigModel", ValidationContext], Iterable[ConfigIssue]]


@runtime_checkable
class ValidationRule(Protocol):
    """Anything with a `name` and a `check(config, ctx)` yielding `ConfigIssue`s."""

    @property
    def name(self) -> str:
        """Stable identifier, shown in every issue the rule reports."""
        ...

    def check(self, config: ConfigModel, ctx: ValidationContext) -> Iterable[ConfigIssue]: ...


def with_rule_name(issue: ConfigIssue, name: str) -> ConfigIssue:
    """`issue`, naming `name` as its rule unless the rule already named itself."""
    if not isinstance(issue, ConfigIssue):
        raise TypeError(f"rule '{name}' yielded {issue!r}, not a ConfigIssue")
    if issue.rule:
        return issue
    # Spelled out rather than dataclasses.replace: several times faster on this hot path.
    return ConfigIssue(
        issue.path, issue.message, issue.hint, name, issue.severity,
        issue.file, issue.line, issue.column,
    )


@dataclass(frozen=True, slots=True)
class FunctionRule:
    """A plain function `(config, ctx) -> issues` under a stable name."""

    name: str
    function: RuleFunction

    def check(self, config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        for issue in self.function(config, ctx):
            yield with_rule_name(issue, self.name)


def rule(name: str) -> Callable[[RuleFunction], FunctionRule]:
    """Decorator: make a `FunctionRule` called `name` from a check function.

    Issues the function yields without a `rule` get `name` filled in.
    Combine with `ConfigValidator.register` to add it to the default rules.
    """
    if not name or not isinstance(name, str):
        raise ValueError("a validation rule needs a non-empty name")

    def make(function: RuleFunction) -> FunctionRule:
        return FunctionRule(name, function)

    return make
