"""`ConfigValidator`: runs every rule on a merged configuration and collects all issues.

The default registry starts with the built-in rules; `ConfigValidator.register`
adds more (deployment policies, site conventions). A rule that raises is a bug
in the rule, not in the document: it becomes one error naming the rule, so a
broken plug-in can neither crash the loader nor let an unchecked document pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from pydantic import BaseModel

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.root import SECTION_NAMES

from .base import FunctionRule, ValidationRule, with_rule_name
from .context import ValidationContext
from .rules import BUILTIN_RULES

if TYPE_CHECKING:
    from butterfly_config.schema.root import ConfigModel

_Registrable = TypeVar("_Registrable")


def as_rule(candidate: object, name: str | None = None) -> ValidationRule:
    """A `ValidationRule` from a rule object, a rule class, or a plain check function."""
    if isinstance(candidate, type):
        candidate = candidate()
    if isinstance(candidate, ValidationRule) and isinstance(getattr(candidate, "name", None), str):
        if name is not None and name != candidate.name:
            return FunctionRule(name, candidate.check)
        return candidate
    if callable(candidate):
        rule_name = name or getattr(candidate, "__name__", "")
        if not rule_name or rule_name == "<lambda>":
            raise ValueError("a rule made from a lambda needs a name: register(fn, name=...)")
        return FunctionRule(rule_name, candidate)
    raise TypeError(
        f"cannot register {candidate!r} as a validation rule: give an object with a `name` "
        "and a `check(config, ctx)` method, a class making one, or a function"
    )


def _crash_issue(rule_name: str, exc: BaseException) -> ConfigIssue:
    return ConfigIssue(
        path="",
        message=f"validation rule '{rule_name}' failed: {type(exc).__name__}: {exc}",
        hint=(
            "this is a bug in the rule, not necessarily in the configuration; fix the rule "
            f"or remove it (ConfigValidator.unregister('{rule_name}'))"
        ),
        rule=rule_name,
        severity="error",
    )


class ConfigValidator:
    """Runs validation rules: its own list, or the default registry when given none."""

    _registry: ClassVar[dict[str, ValidationRule]] = {rule.name: rule for rule in BUILTIN_RULES}

    def __init__(self, rules: Sequence[ValidationRule] | None = None) -> None:
        self._rules: tuple[ValidationRule, ...] | None = (
            None if rules is None else tuple(as_rule(rule) for rule in rules)
        )

    @property
    def rules(self) -> tuple[ValidationRule, ...]:
        """The rules this validator runs, in order (the live default registry if none given)."""
        return self._rules if self._rules is not None else tuple(self._registry.values())

    @classmethod
    def default_rules(cls) -> tuple[ValidationRule, ...]:
        """Every rule in the default registry: built-in ones first, then registered ones."""
        return tuple(cls._registry.values())

    @overload
    @classmethod
    def register(
        cls, rule: _Registrable, /, *, name: str | None = None, replace: bool = False
    ) -> _Registrable: ...

    @overload
    @classmethod
    def register(
        cls, rule: None = None, /, *, name: str | None = None, replace: bool = False
    ) -> Callable[[_Registrable], _Registrable]: ...

    @classmethod
    def register(
        cls, rule: Any = None, /, *, name: str | None = None, replace: bool = False
    ) -> Any:
        """Add a rule to the default registry; returns it unchanged, so it works as a decorator.

        Accepts a rule object, a rule class (instantiated without arguments),
        or a plain `(config, ctx) -> issues` function, named `name` or after
        the function. `@ConfigValidator.register(name="...")` decorates too.
        A second rule with a taken name is refused unless `replace=True`.
        """
        if rule is None:

            def decorate(target: _Registrable) -> _Registrable:
                return cls.register(target, name=name, replace=replace)

            return decorate
        made = as_rule(rule, name)
        existing = cls._registry.get(made.name)
        if existing is not None and existing is not made and not replace:
            raise ValueError(
                f"a validation rule named '{made.name}' is already registered; "
                "choose another name or pass replace=True"
            )
        cls._registry[made.name] = made
        return rule

    @classmethod
    def unregister(cls, name: str) -> ValidationRule:
        """Remove the rule called `name` from the default registry and return it."""
        try:
            return cls._registry.pop(name)
        except KeyError:
            raise KeyError(f"no validation rule named '{name}' is registered") from None

    def validate(
        self, config: ConfigModel, ctx: ValidationContext | None = None
    ) -> list[ConfigIssue]:
        """Every issue of every rule, errors and warnings, in rule order; never raises."""
        context = ctx if ctx is not None else ValidationContext()
        issues: list[ConfigIssue] = []
        for rule in self.rules:
            issues.extend(_run_rule(rule, config, context))
        return issues

    def validate_around(
        self, config: ConfigModel, ctx: ValidationContext, invalid: frozenset[str]
    ) -> list[ConfigIssue]:
        """Every issue of the rules that read none of the option paths `invalid`.

        For a document whose values did not all pass the schema: `config` is
        the document with those values back at their defaults. A rule that read
        one of them would judge a value the operator never wrote, so its issues
        are dropped; every other rule still reports, and one pass shows all.
        """
        issues: list[ConfigIssue] = []
        for rule in self.rules:
            read: set[str] = set()
            found = _run_rule(rule, _PathReads(config, "", read), ctx)  # type: ignore[arg-type]
            if not any(_overlaps(path, bad) for path in read for bad in invalid):
                issues.extend(found)
        return issues

    def validate_runs(
        self,
        config: ConfigModel,
        ctx: ValidationContext,
        *,
        previous: Sequence[RuleRun] = (),
        changed: Iterable[str] = (),
    ) -> tuple[RuleRun, ...]:
        """Every rule's issues, each with the sections of `config` it read.

        `previous`: the runs on a configuration that differs from `config` only
        in the top-level sections `changed`, with the same context. A built-in
        rule's output depends only on what it reads of the configuration, the
        context and the files it names, so a rule that read none of the changed
        sections would give the same issues again: its earlier run is kept. A
        commit usually changes one section, and this spares most of the rules.
        Files are looked at again when the options naming them change (or on a
        full load), not on every change of an unrelated section.
        """
        changed_sections = frozenset(changed)
        rules = self.rules
        if len(previous) != len(rules):  # the rules changed since: match runs by rule
            by_rule = {id(run.rule): run for run in previous}
            previous = tuple(by_rule.get(id(rule), _NOT_RUN) for rule in rules)
        runs: list[RuleRun] = []
        for rule, run in zip(rules, previous, strict=True):
            if (run.rule is not rule or run.sections is None
                    or not run.sections.isdisjoint(changed_sections)):
                run = _tracked_run(rule, config, ctx)
            runs.append(run)
        return tuple(runs)


@dataclass(frozen=True, slots=True)
class RuleRun:
    """One rule's issues on one configuration, and what the rule read to find them."""

    rule: ValidationRule
    issues: tuple[ConfigIssue, ...]
    sections: frozenset[str] | None
    """The top-level sections it read; None when it read the whole model or is
    not a built-in rule: it runs every time."""


_NOT_RUN = RuleRun(None, (), None)  # type: ignore[arg-type]
"""Stands for a rule with no earlier run: its `rule` is no rule, so it runs."""


def issues_of(runs: Iterable[RuleRun]) -> list[ConfigIssue]:
    """The issues of rule runs, in rule order (what `validate` would return)."""
    return [issue for run in runs for issue in run.issues]


_BUILTIN_RULE_IDS = frozenset(id(rule) for rule in BUILTIN_RULES)
"""Rules known to read nothing but the configuration, the context and the files
the configuration names (a rule registered later may read anything, so it is
never spared)."""

_SECTIONS = frozenset(SECTION_NAMES)


class _ModelReads:
    """A configuration as a rule sees it, noting which top-level sections it reads."""

    __slots__ = ("_model", "everything", "sections")

    def __init__(self, model: ConfigModel) -> None:
        self._model = model
        self.sections: set[str] = set()
        self.everything = False

    def __getattr__(self, name: str) -> Any:
        if name in _SECTIONS:
            self.sections.add(name)
        else:  # a method or attribute of the whole model: anything may have been read
            self.everything = True
        return getattr(self._model, name)


class _PathReads:
    """A configuration or one of its sections as a rule sees it, noting each option it reads.

    Finer than `_ModelReads` and slower, so used only on documents with invalid
    values, where a rule's result counts only if it read none of them.
    """

    __slots__ = ("_model", "_prefix", "_read")

    def __init__(self, model: BaseModel, prefix: str, read: set[str]) -> None:
        self._model = model
        self._prefix = prefix
        self._read = read

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() in a plug-in rule sees the real model
        return type(self._model)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._model, name)
        if name not in type(self._model).model_fields:
            self._read.add(self._prefix)  # a method of the section: it may read all of it
            return value
        path = f"{self._prefix}.{name}" if self._prefix else name
        if isinstance(value, BaseModel):
            return _PathReads(value, path, self._read)
        self._read.add(path)
        return value


def _overlaps(read: str, invalid: str) -> bool:
    """Whether reading `read` (an option, or a whole section) reads option `invalid`."""
    return (not read or read == invalid or invalid.startswith(read + ".")
            or read.startswith(invalid + "."))


_READINGS: dict[frozenset[str], frozenset[str]] = {}
"""Each distinct set of sections read, kept once: runs share it."""


def _tracked_run(rule: ValidationRule, config: ConfigModel, ctx: ValidationContext) -> RuleRun:
    if id(rule) not in _BUILTIN_RULE_IDS:
        return RuleRun(rule, tuple(_run_rule(rule, config, ctx)), None)
    model = _ModelReads(config)
    issues = tuple(_run_rule(rule, model, ctx))  # type: ignore[arg-type]
    if model.everything:
        return RuleRun(rule, issues, None)
    read = frozenset(model.sections)
    # one set per distinct reading: every kept configuration holds a run per rule
    return RuleRun(rule, issues, _READINGS.setdefault(read, read))


def _run_rule(
    rule: ValidationRule, config: ConfigModel, ctx: ValidationContext
) -> Iterable[ConfigIssue]:
    """One rule's issues, each naming the rule; a crash becomes a single error issue."""
    name = rule.name
    # A FunctionRule's own check() would name its issues too; calling the
    # function directly saves a generator layer per rule on every load.
    check = rule.function if isinstance(rule, FunctionRule) else rule.check
    try:
        return [with_rule_name(issue, name) for issue in check(config, ctx)]
    except Exception as exc:
        return [_crash_issue(name, exc)]
