"""Configuration sources: each returns a `Layer` (values + provenance + issues).

Precedence is the order of the list the loader merges: defaults < included
files < config files < environment < command line < runtime.
"""

from .defaults import defaults_layer
from .env import env_layer, read_env_file
from .layer import DEFAULT_SOURCE, Layer, Source, SourceKind, get_path, set_path
from .overrides import cli_layer, parse_set_argument, runtime_layer, values_layer
from .toml_file import file_layers

__all__ = [
    "DEFAULT_SOURCE",
    "Layer",
    "Source",
    "SourceKind",
    "cli_layer",
    "defaults_layer",
    "env_layer",
    "file_layers",
    "get_path",
    "parse_set_argument",
    "read_env_file",
    "runtime_layer",
    "set_path",
    "values_layer",
]
