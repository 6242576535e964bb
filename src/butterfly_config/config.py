"""`ButterflyConfig`: one validated, immutable configuration and where its values came from.

Cheap to keep: it holds the frozen model (its field sets shared with equal
models, see `sources.compact`), the origins of the leaves as a tuple in
registry order (sharing `Source` objects), the warnings, and its two hashes
once asked for. File texts are not kept; line numbers are looked up again only
when someone asks.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from butterfly_config.canonical import canonical_bytes, canonical_document, digest, hashes
from butterfly_config.errors import ConfigIssue, ValidationFailed
from butterfly_config.paths import resolve_path
from butterfly_config.redact import redact_text
from butterfly_config.schema import registry
from butterfly_config.schema.options import Category
from butterfly_config.schema.root import ConfigModel
from butterfly_config.sources.compact import (
    PackedOrigins,
    overlay_origins,
    pack_origins,
    packed_origin,
    share_field_sets,
    unpack_origins,
)
from butterfly_config.sources.layer import DEFAULT_SOURCE, Layer, Source
from butterfly_config.sources.lines import LineFinder
from butterfly_config.sources.model_errors import model_issues
from butterfly_config.sources.overrides import runtime_layer
from butterfly_config.sources.toml_writer import to_toml
from butterfly_config.validation.context import ValidationContext
from butterfly_config.validation.registry import ConfigValidator, RuleRun, issues_of

_INDEX = re.compile(r"\[\d+\]")
_NOT_CONFIGURATION = "include"


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One option that differs between two configurations."""

    path: str
    old: Any
    new: Any
    category: Category


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How a configuration was checked; `with_values` checks its results the same way."""

    base_dir: str | None = None
    check_paths: bool = True
    gpu_count: int | None = None
    environment: str | None = None


def _origin_of(path: str, origins: Mapping[str, Source]) -> tuple[str, Source] | None:
    """The origin of `path` or of the nearest enclosing leaf/section that has one."""
    key = _INDEX.sub("", path)
    while key:
        source = origins.get(key)
        if source is not None:
            return key, source
        key = key.rpartition(".")[0]
    return None


def locate(issue: ConfigIssue, origins: Mapping[str, Source], lines: LineFinder) -> ConfigIssue:
    """`issue` with file:line (files, env files) or the variable/flag that set its value.

    Credentials in URLs are masked here, so no issue shown anywhere carries one.
    """
    if "://" in issue.message or "://" in issue.hint:
        issue = dataclasses.replace(
            issue, message=redact_text(issue.message), hint=redact_text(issue.hint)
        )
    if issue.file is not None or not issue.path:
        return issue
    found = _origin_of(issue.path, origins)
    if found is None:
        return issue
    key, source = found
    if source.kind in ("file", "include"):
        return dataclasses.replace(issue, file=source.name, line=lines.line(source.name, key))
    if source.kind == "env" and source.chain:
        return dataclasses.replace(
            issue, file=source.chain[0], line=source.line,
            message=f"{issue.message} (from {source.name})",
        )
    if source.kind == "default":
        return issue
    return dataclasses.replace(issue, message=f"{issue.message} (set by {source.describe()})")


def _rule_runs(
    model: ConfigModel,
    settings: LoadSettings,
    previous: tuple[RuleRun, ...] = (),
    changed: Iterable[str] = (),
) -> tuple[RuleRun, ...]:
    """Every rule's issues on `model`; those of `previous` (on a configuration that differs
    only in the sections `changed`) are kept for the rules that read none of them."""
    return ConfigValidator().validate_runs(
        model, _context(settings), previous=previous, changed=changed)


def _rules_around(
    values: dict[str, Any], schema_issues: list[tuple[str, ConfigIssue]], settings: LoadSettings
) -> list[ConfigIssue]:
    """The rules' issues on a document the schema refused, so one pass reports everything.

    Each refused value is put back to its default and the rules run on the
    result; the issues of a rule that read a refused option are dropped (it
    would judge a value nobody wrote). An unknown key is only left out: it
    makes no option invalid. The valid path never comes here, so it costs
    nothing there.
    """
    trimmed: Any = values
    invalid: set[str] = set()
    for leaf, issue in schema_issues:
        if not leaf:
            return []  # the document as a whole is wrong: no rule has valid inputs
        trimmed = _without(trimmed, leaf.split("."))
        if not (issue.rule == "unknown-key" and issue.path == leaf):
            invalid.add(leaf)
    try:
        stand_in = ConfigModel.model_validate(trimmed)
    except ValidationError:
        return []  # a value the defaults cannot stand in for: report the schema's issues only
    return ConfigValidator().validate_around(stand_in, _context(settings), frozenset(invalid))


def _without(document: Any, keys: list[str]) -> Any:
    """`document` without the value at `keys` (copied along the path: the merged
    document's tables may be shared with the layers)."""
    head, *rest = keys
    if not isinstance(document, dict) or head not in document:
        return document
    copy = dict(document)
    if rest:
        copy[head] = _without(document[head], rest)
    else:
        del copy[head]
    return copy


@functools.lru_cache(maxsize=16)
def _context(settings: LoadSettings) -> ValidationContext:
    """The rules' context for `settings` (both immutable: one per settings, not per build)."""
    return ValidationContext(
        environment=settings.environment,
        base_dir=Path(settings.base_dir) if settings.base_dir is not None else None,
        gpu_count=settings.gpu_count,
        check_paths=settings.check_paths,
    )


def build_config(
    values: dict[str, Any],
    origins: dict[str, Source],
    issues: Iterable[ConfigIssue],
    settings: LoadSettings,
    lines: LineFinder | None = None,
) -> ButterflyConfig:
    """Validate a merged document once; raise `ValidationFailed` with every issue, or build."""
    source_issues = list(issues)  # each source already said where it came from
    found: list[ConfigIssue] = []
    model: ConfigModel | None = None
    runs: tuple[RuleRun, ...] = ()
    try:
        model = ConfigModel.model_validate(values)
    except ValidationError as exc:
        schema_issues = model_issues(exc)
        found.extend(issue for _, issue in schema_issues)
        found.extend(_rules_around(values, schema_issues, settings))
    else:
        runs = _rule_runs(model, settings)
        found.extend(issues_of(runs))
    errors = [i for i in (*source_issues, *found) if i.severity == "error"]
    if errors or model is None:
        finder = lines if lines is not None else LineFinder()
        located = [*source_issues, *(locate(i, origins, finder) for i in found)]
        located.sort(key=lambda issue: issue.severity != "error")  # errors first, order kept
        count = len(errors)
        raise ValidationFailed(
            f"configuration refused: {count} error{'s' if count != 1 else ''}", located
        )
    return ButterflyConfig(model, origins, (*source_issues, *found), settings, runs)


class ButterflyConfig:
    """An immutable, validated configuration with provenance and hashes."""

    __slots__ = ("_cluster_hash", "_full_hash", "_located", "_model", "_origins", "_raw_warnings",
                 "_rule_runs", "_settings")
    _model: ConfigModel
    _rule_runs: tuple[RuleRun, ...]
    _origins: PackedOrigins
    _raw_warnings: tuple[ConfigIssue, ...]
    _located: tuple[ConfigIssue, ...] | None
    _settings: LoadSettings
    _cluster_hash: str | None
    _full_hash: str | None

    def __init__(
        self,
        model: ConfigModel,
        origins: Mapping[str, Source] | PackedOrigins | None = None,
        warnings: tuple[ConfigIssue, ...] = (),
        settings: LoadSettings | None = None,
        rule_runs: tuple[RuleRun, ...] = (),
    ) -> None:
        """`origins`: by leaf path, or already packed (a build from a parent's)."""
        share_field_sets(model)
        packed = origins if isinstance(origins, tuple) else pack_origins(origins or {})
        # straight to the slots: `__setattr__` guards the finished object, not its making
        init = object.__setattr__
        init(self, "_model", model)
        init(self, "_rule_runs", rule_runs)  # what each rule found and read: the next build
        init(self, "_origins", packed)       # reuses it
        init(self, "_raw_warnings", warnings)
        init(self, "_located", None)
        init(self, "_settings", settings or LoadSettings())
        init(self, "_cluster_hash", None)
        init(self, "_full_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in ("_cluster_hash", "_full_hash", "_located"):  # caches, filled once
            raise AttributeError("ButterflyConfig is immutable; use with_values()")
        object.__setattr__(self, name, value)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def defaults(cls) -> ButterflyConfig:
        """Every option at its default (node.node_id unset)."""
        return cls(ConfigModel())

    @classmethod
    def from_model(cls, model: ConfigModel) -> ButterflyConfig:
        """Wrap an already validated model (no rules are run)."""
        return cls(model)

    @classmethod
    def from_canonical(cls, data: bytes | str) -> ButterflyConfig:
        """Rebuild a configuration from `to_canonical()` bytes (e.g. a history entry).

        The model checks types and ranges; the rules are not run again (the
        bytes were valid when stored). Provenance is not part of the bytes.
        """
        try:
            model = ConfigModel.model_validate_json(data)
        except ValidationError as exc:
            issues = [issue for _, issue in model_issues(exc)]
            message = "stored configuration does not match the schema"
            raise ValidationFailed(message, issues) from None
        return cls(model)

    def cluster_document(self) -> bytes:
        """The canonical bytes of the cluster-scope options (what consensus agrees on).

        Their BLAKE3 is `cluster_hash`, so it is kept: the node that proposes a
        change replies with the hash of the document it just encoded.
        """
        data = canonical_bytes(self._model, cluster_only=True)
        if self._cluster_hash is None:
            self._cluster_hash = digest(data)
        return data

    def to_canonical(self) -> bytes:
        """The canonical bytes of every option: what `full_hash` hashes; compact to keep."""
        return canonical_bytes(self._model)

    def with_values(
        self, changes: Mapping[str, Any], *, revision: int | None = None
    ) -> ButterflyConfig:
        """A new validated configuration with `changes` (dotted path -> value) applied.

        Text values are parsed by the option's type. Raises `ConfigError` with
        every issue when the result is invalid; `self` is never changed.
        """
        update = runtime_layer(changes, revision)
        if not update.issues:
            rebuilt = self._with_sections(update)
            if rebuilt is not None:
                return rebuilt
        return self._with_layer(update)

    def _with_layer(self, update: Layer) -> ButterflyConfig:
        """`update` laid over every option of this configuration, validated whole.

        The reference path: it locates every issue it finds (file:line, the
        variable or the revision that set the value).
        """
        from butterfly_config.merge import merge_layers

        base = Layer(self._model.model_dump(exclude_none=True), self.origins)
        values, origins = merge_layers([base, update])
        return build_config(values, origins, update.issues, self._settings)

    def _with_sections(self, update: Layer) -> ButterflyConfig | None:
        """`update` laid over the sections it touches only, or None when the result has
        an error (the reference path then finds and locates every issue).

        The root model has no validators of its own, so validating the touched
        sections and keeping the others as they are gives the same model as
        validating the whole document: a commit's build re-validates one section
        instead of twelve. The rules still see the whole result.
        """
        from butterfly_config.merge import merge_layers

        fields = ConfigModel.model_fields
        sections: dict[str, Any] = {}
        for name, part in update.values.items():
            if name not in fields or not isinstance(part, dict):
                return None
            current = getattr(self._model, name)
            dumped = Layer({name: current.model_dump(exclude_none=True)}, {})
            merged, _ = merge_layers([dumped, Layer({name: part}, {})])
            try:
                sections[name] = type(current).model_validate(merged[name])
            except ValidationError:
                return None
        model = self._model.model_copy(update=sections) if sections else self._model
        runs = _rule_runs(model, self._settings, self._rule_runs, sections)
        found = issues_of(runs)
        if any(issue.severity == "error" for issue in found):
            return None
        origins = overlay_origins(self._origins, update.origins)
        return ButterflyConfig(model, origins, tuple(found), self._settings, runs)

    # -- reading ---------------------------------------------------------------------
    @property
    def model(self) -> ConfigModel:
        return self._model

    @property
    def warnings(self) -> tuple[ConfigIssue, ...]:
        """Warnings found while loading, with file:line filled in on first access."""
        if self._located is None:
            finder = LineFinder()
            origins = self.origins
            self._located = tuple(locate(w, origins, finder) for w in self._raw_warnings)
        return self._located

    def resolve_path(self, raw: str) -> str:
        """A path option as the node opens it: `~` expanded, relative paths from the
        directory of the first configuration file (`paths.resolve_path`)."""
        return resolve_path(raw, self._settings.base_dir)

    @property
    def data_dir(self) -> str:
        """`node.data_dir` as the node opens it (see `resolve_path`)."""
        return self.resolve_path(str(self._model.node.data_dir))

    def get_value(self, path: str) -> Any:
        """The value of a leaf, or the section model of a table; KeyError for unknown paths."""
        node: Any = self._model
        if registry.option_info(path) is None and not registry.is_section(path):
            suggestion = registry.suggest(path)
            hint = f"; did you mean {suggestion}?" if suggestion else ""
            raise KeyError(f"unknown option '{path}'{hint}")
        for name in path.split("."):
            node = getattr(node, name)
        return node

    def provenance(self, path: str) -> Source:
        """Where the value of `path` came from (file:line, include chain, env var, flag...)."""
        if registry.option_info(path) is None:
            suggestion = registry.suggest(path)
            hint = f"; did you mean {suggestion}?" if suggestion else ""
            raise KeyError(f"unknown option '{path}'{hint}")
        source = packed_origin(self._origins, path) or DEFAULT_SOURCE
        if source.kind in ("file", "include") and source.line is None:
            line = LineFinder().line(source.name, path)
            if line is not None:
                return dataclasses.replace(source, line=line)
        return source

    @property
    def origins(self) -> dict[str, Source]:
        """Sources of every value that is not a default, by leaf path (a fresh dict)."""
        return unpack_origins(self._origins)

    def cluster_view(self) -> dict[str, Any]:
        """The cluster-scope options as a JSON-compatible nested dict (what consensus agrees on)."""
        return canonical_document(self._model, cluster_only=True)

    @property
    def cluster_hash(self) -> str:
        """BLAKE3 of the cluster-scope options (computed once, with full_hash)."""
        if self._cluster_hash is None:
            self._cluster_hash, self._full_hash = hashes(self._model)
        return self._cluster_hash

    @property
    def full_hash(self) -> str:
        """BLAKE3 of every option except the include directive (computed once)."""
        if self._full_hash is None:
            self._cluster_hash, self._full_hash = hashes(self._model)
        return self._full_hash

    def to_dict(self) -> dict[str, Any]:
        """Every set option as JSON-compatible data; unset options and [include] left out."""
        return self._model.model_dump(mode="json", exclude_none=True, exclude={_NOT_CONFIGURATION})

    def to_toml(self) -> str:
        """The configuration as a TOML document that loads back to an equal configuration."""
        return to_toml(self.to_dict())

    def diff(self, other: ButterflyConfig) -> list[ConfigChange]:
        """Every option whose value differs, in schema order, with its category."""
        mine = self._model.model_dump(mode="json")
        theirs = other._model.model_dump(mode="json")
        changes: list[ConfigChange] = []
        for path, info in registry.options().items():
            if path.startswith(_NOT_CONFIGURATION + "."):
                continue
            old = _dig(mine, path)
            new = _dig(theirs, path)
            if old != new or type(old) is not type(new):
                changes.append(ConfigChange(path, old, new, info.category))
        return changes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ButterflyConfig):
            return NotImplemented
        return self._model == other._model

    def __hash__(self) -> int:
        return hash(self.full_hash)

    def __repr__(self) -> str:
        node_id = self._model.node.node_id
        return f"ButterflyConfig(node_id={node_id!r}, cluster_hash={self.cluster_hash[:12]})"


def _dig(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for name in path.split("."):
        node = node.get(name) if isinstance(node, dict) else None
    return node

