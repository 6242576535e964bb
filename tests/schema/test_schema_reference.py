"""The schema against the reference option file: same options, same defaults, same order."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from schema_helpers import leaves

from butterfly_config.schema.registry import default_document, option_info, options
from butterfly_config.schema.root import ConfigModel

# DESIGN 1.2: defaults that deliberately differ from the reference file's values.
CHANGED_DEFAULTS: dict[str, Any] = {
    "metadata.environment": "development",
    "network.coordinator_addr": "127.0.0.1:7890",
    "node.node_id": None,  # generated per data_dir by the loader
    "metadata.description": None,
    "metadata.operator_email": None,
    "network.external_addr": None,  # unset = same as listen_addr
    "network.topology.datacenter": None,
    "network.topology.rack": None,
    "network.topology.availability_zone": None,
    "observability.logging.filters": {},
}

# Options that appear only as comments in the reference file: optional, unset by default.
COMMENTED_OUT = {
    "network.interface",
    "node.work_dir",
    "byzantine.checkpoint.interval_seconds",
    "byzantine.checkpoint.checkpoint_dir",
    "resources.disk.io_scheduler",
    "security.encryption_at_rest.key_file",
    "security.api.api_key_file",
    "advanced.core_dump_dir",
}

# Our extensions (DESIGN 1.2), not in the reference file.
EXTENSIONS = {"network.api_addr", "cluster.members"}


@pytest.fixture(scope="module")
def reference_text(reference_dir: Path) -> str:
    return (reference_dir / "config_schema.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(reference_text: str) -> dict[str, Any]:
    return tomllib.loads(reference_text)


def _default(path: str) -> Any:
    node: Any = default_document()
    for part in path.split("."):
        if part not in node:
            return None
        node = node[part]
    return node


def test_every_reference_option_is_in_the_schema_with_its_default(
    reference: dict[str, Any],
) -> None:
    mismatches = []
    for path, value in leaves(reference):
        if option_info(path) is None:
            mismatches.append(f"{path}: not in the schema")
            continue
        expected = CHANGED_DEFAULTS.get(path, value)
        if _default(path) != expected:
            mismatches.append(f"{path}: default {_default(path)!r}, expected {expected!r}")
    assert mismatches == []


def test_documented_exceptions_are_real_differences(reference: dict[str, Any]) -> None:
    values = dict(leaves(reference))
    for path, ours in CHANGED_DEFAULTS.items():
        assert path in values, path
        assert values[path] != ours, f"{path} is no longer an exception"


def test_every_schema_option_comes_from_the_reference_or_is_documented(
    reference: dict[str, Any],
) -> None:
    in_reference = {path for path, _ in leaves(reference)}
    extra = set(options()) - in_reference
    assert extra == COMMENTED_OUT | EXTENSIONS


def test_commented_out_options_are_exactly_those_of_the_reference_file(
    reference_text: str,
) -> None:
    table = ""
    found = set()
    for line in reference_text.splitlines():
        header = re.fullmatch(r"\[([a-z_.]+)\]", line.strip())
        if header:
            table = header.group(1)
        # "# key = <TOML literal>" (prose such as "# false = attempt ..." is not an option)
        commented = re.match(r'# ([a-z_]+) = (?:"|\d|\[|true\b|false\b)', line)
        if commented:
            found.add(f"{table}.{commented.group(1)}")
    assert found == COMMENTED_OUT
    for path in COMMENTED_OUT:
        info = options()[path]
        assert info.default is None, path
        assert info.example is not None, f"{path} needs an example for the template"


def test_options_follow_reference_file_order(reference: dict[str, Any]) -> None:
    reference_order = [path for path, _ in leaves(reference)]
    schema_order = [path for path in options() if path in set(reference_order)]
    assert schema_order == reference_order


def test_reference_file_validates_and_keeps_its_values(reference: dict[str, Any]) -> None:
    model = ConfigModel.model_validate(reference)
    dumped = dict(leaves(model.model_dump(mode="json")))
    for path, value in leaves(reference):
        assert dumped[path] == value, path


def test_descriptions_are_our_own(reference_text: str) -> None:
    comments = {
        line.strip().lstrip("#").strip().rstrip(".").lower()
        for line in reference_text.splitlines()
        if line.strip().startswith("#")
    }
    copied = [
        path for path, info in options().items()
        if info.description.rstrip(".").lower() in comments
    ]
    assert copied == []
