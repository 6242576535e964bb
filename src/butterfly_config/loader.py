"""`ConfigLoader`: sources -> one merge -> one validation of the merged result.

Precedence, lowest first: defaults < included files < config files <
environment (env files below the real environment) < command line < runtime.
Every issue of every source is collected and reported together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from butterfly_config.config import ButterflyConfig, LoadSettings, build_config
from butterfly_config.merge import merge_layers
from butterfly_config.paths import resolve_path
from butterfly_config.schema import registry
from butterfly_config.sources.env import DEFAULT_PREFIX, env_layer
from butterfly_config.sources.generated import generated_node_id
from butterfly_config.sources.layer import Layer, Source
from butterfly_config.sources.lines import LineFinder
from butterfly_config.sources.overrides import cli_layer, runtime_layer, values_layer
from butterfly_config.sources.toml_file import GIVEN_WITH_CONFIG, file_layers

_DEFAULT_DATA_DIR = str(registry.options()["node.data_dir"].default)


class ConfigLoader:
    """Collects sources, then `load()` merges and validates them once.

    Methods return the loader so calls chain:
    `ConfigLoader().add_file("node.toml").override_value("a.b", 1).load()`.
    """

    def __init__(self) -> None:
        self._files: list[str] = []
        self._given: list[str] = []  # where the operator named each file, for its hint
        self._env_files: list[str] = []
        self._prefix = DEFAULT_PREFIX
        self._environ: Mapping[str, str] | None = None
        self._overrides: list[tuple[str, Any, Source]] = []
        self._set_args: list[str] = []
        self._flags: dict[str, str | None] = {}
        self._runtime: list[tuple[Mapping[str, Any], int | None]] = []
        self._strict = False
        self._check_paths = True
        self._gpu_count: int | None = None
        self._environment: str | None = None

    # -- sources -------------------------------------------------------------------
    def add_file(
        self, path: str | os.PathLike[str], *, given: str = GIVEN_WITH_CONFIG
    ) -> ConfigLoader:
        """A config file; later files override earlier ones.

        `given`: where the operator named it, for the hint when it is missing
        (`given to config diff`); the default names --config and BUTTERFLY_CONFIG.
        """
        self._files.append(os.fspath(path))
        self._given.append(given)
        return self

    def set_env_prefix(self, prefix: str) -> ConfigLoader:
        self._prefix = prefix
        return self

    def set_environ(self, environ: Mapping[str, str]) -> ConfigLoader:
        """Read variables from `environ` instead of `os.environ` (tests, embedding)."""
        self._environ = environ
        return self

    def add_env_file(self, path: str | os.PathLike[str]) -> ConfigLoader:
        """KEY=VALUE lines read as if exported; the real environment wins."""
        self._env_files.append(os.fspath(path))
        return self

    def override_value(self, path: str, value: Any) -> ConfigLoader:
        """Set one option on top of files and environment (text is parsed by the option's type)."""
        self._overrides.append((path, value, Source("cli", "override")))
        return self

    def add_set_arguments(self, arguments: list[str]) -> ConfigLoader:
        """`--set KEY=VALUE` arguments, as given on the command line."""
        self._set_args.extend(arguments)
        return self

    def set_cli(
        self,
        node_id: str | None = None,
        listen_addr: str | None = None,
        log_level: str | None = None,
    ) -> ConfigLoader:
        """The dedicated flags `--node-id`, `--listen-addr`, `--log-level` (None = not given)."""
        self._flags = {"node_id": node_id, "listen_addr": listen_addr, "log_level": log_level}
        return self

    def add_runtime(self, changes: Mapping[str, Any], revision: int | None = None) -> ConfigLoader:
        """Runtime changes (highest precedence), recorded as `revision N`."""
        self._runtime.append((changes, revision))
        return self

    # -- behaviour -----------------------------------------------------------------
    def strict(self, enabled: bool = True) -> ConfigLoader:
        """Unknown keys and unknown variables become errors."""
        self._strict = enabled
        return self

    def check_paths(self, enabled: bool) -> ConfigLoader:
        """False skips the file-system checks (a document meant for another machine)."""
        self._check_paths = enabled
        return self

    def set_gpu_count(self, count: int | None) -> ConfigLoader:
        """GPUs the checks assume; None probes the machine."""
        self._gpu_count = count
        return self

    def set_environment(self, environment: str | None) -> ConfigLoader:
        """Check as if in this environment instead of the document's `metadata.environment`."""
        self._environment = environment
        return self

    # -- loading -------------------------------------------------------------------
    def layers(self, texts: dict[str, str] | None = None) -> list[Layer]:
        """Every source's layer above the defaults, lowest precedence first.

        The defaults (`defaults_layer()`) are not merged: the model supplies
        exactly those values for every key no layer sets, and a leaf without
        an origin reports itself as a default, so merging them would only cost
        time on every load.
        """
        includes: list[Layer] = []
        tops: list[Layer] = []
        for file, given in zip(self._files, self._given, strict=True):
            inc, top = file_layers(file, strict=self._strict, texts=texts, given=given)
            includes.extend(inc)
            tops.append(top)
        environ = os.environ if self._environ is None else self._environ
        env = env_layer(environ, prefix=self._prefix, strict=self._strict,
                        env_files=self._env_files)
        cli = cli_layer(self._set_args, **self._flags)
        overrides = values_layer(self._overrides)
        runtime = [runtime_layer(c, r) for c, r in self._runtime]
        return [*includes, *tops, env, cli, overrides, *runtime]

    def load(self) -> ButterflyConfig:
        """Merge every source and validate the result once; `ConfigError` lists every issue."""
        texts: dict[str, str] = {}
        layers = self.layers(texts)
        values, origins = merge_layers(layers)
        base_dir = str(Path(self._files[0]).parent) if self._files else None
        _fill_node_id(values, origins, base_dir)
        issues = [issue for layer in layers for issue in layer.issues]
        settings = LoadSettings(
            base_dir=base_dir,
            check_paths=self._check_paths,
            gpu_count=self._gpu_count,
            environment=self._environment,
        )
        return build_config(values, origins, issues, settings, LineFinder(texts))


def _fill_node_id(
    values: dict[str, Any], origins: dict[str, Source], base_dir: str | None
) -> None:
    """Generate `node.node_id` when no source set it (stable per data_dir)."""
    node = values.get("node", {})
    if not isinstance(node, dict):
        return  # `node` is not a table: the model reports it
    if node.get("node_id") is not None:
        return
    data_dir = node.get("data_dir")
    node_id, source = generated_node_id(resolve_path(
        data_dir if isinstance(data_dir, str) and data_dir else _DEFAULT_DATA_DIR, base_dir
    ))
    values["node"] = {**node, "node_id": node_id}  # the merge result's tables may be shared
    origins["node.node_id"] = source


def load_from_args(
    args: Any, *, check_paths: bool = True, given: str = GIVEN_WITH_CONFIG
) -> ButterflyConfig:
    """Load what a command's parsed arguments describe (`--config`, `--set`, `--env-file`...).

    `check_paths=False` skips the file-system checks (for reading a file meant
    for another machine). `given`: how the command took its files, when not
    with --config (for the hint of a missing one).
    """
    loader = ConfigLoader().check_paths(check_paths)
    for file in getattr(args, "config", None) or []:
        loader.add_file(file, given=given)
    for env_file in getattr(args, "env_file", None) or []:
        loader.add_env_file(env_file)
    loader.add_set_arguments(list(getattr(args, "overrides", None) or []))
    loader.set_cli(
        node_id=getattr(args, "node_id", None),
        listen_addr=getattr(args, "listen_addr", None),
        log_level=getattr(args, "log_level", None),
    )
    loader.strict(bool(getattr(args, "strict", False)))
    return loader.load()
