"""The option registry: lookups, "did you mean", defaults document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from butterfly_config.schema import registry
from butterfly_config.schema.root import ConfigModel


def test_options_cover_every_leaf_of_the_models_in_order() -> None:
    paths = list(registry.options())
    assert paths[0] == "metadata.config_version"
    assert paths[-1] == "cluster.members"
    assert len(paths) == len(set(paths)) > 250
    sections = [path.split(".", 1)[0] for path in paths]
    assert list(dict.fromkeys(sections)) == list(ConfigModel.model_fields)


def test_options_are_cached_and_read_only() -> None:
    assert registry.options() is registry.options()
    with pytest.raises(TypeError):
        registry.options()["x"] = registry.options()["node.role"]  # type: ignore[index]


def test_free_form_tables_and_members_are_leaves() -> None:
    for path in ("observability.logging.filters", "partition.model_hints", "cluster.members"):
        assert registry.option_info(path) is not None, path
        assert not registry.is_section(path), path


def test_sections_and_lookups() -> None:
    assert registry.is_section("network")
    assert registry.is_section("network.connection")
    assert registry.is_section("cluster")
    assert not registry.is_section("network.protocol")
    assert registry.option_info("network") is None
    assert registry.option_info("no.such.option") is None
    info = registry.option_info("network.connection.connection_timeout_ms")
    assert info is not None
    assert (info.default, info.unit, info.section) == (5000, "ms", "network")
    assert registry.section_paths()[:3] == ("metadata", "include", "node")
    assert registry.section_description("byzantine.view_change")
    assert registry.section_description("nope") == ""


def test_enumerations_list_their_choices() -> None:
    info = registry.options()["network.protocol"]
    assert info.choices == ("quic", "grpc", "tcp")
    assert registry.options()["node.data_dir"].choices == ()


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("network.conection.max_connections", "network.connection.max_connections"),
        ("byzantine.fvalue", "byzantine.f_value"),
        ("byzantine.failure_detection.phi_suspect",
         "byzantine.failure_detection.phi_suspect_threshold"),
        ("netwrk", "network"),
        ("observability.loging", "observability.logging"),
        ("resources.gpu.device_id", "resources.gpu.device_ids"),
    ],
)
def test_suggest_finds_what_was_meant(typo: str, meant: str) -> None:
    assert registry.suggest(typo) == meant


def test_suggest_gives_nothing_for_unrelated_names() -> None:
    assert registry.suggest("completely.unrelated.thing") is None
    assert registry.suggest("zzzz") is None


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(item for v in value.values() for item in _walk(v))]
    if isinstance(value, list):
        return [value, *(item for v in value for item in _walk(v))]
    return [value]


def test_default_document_is_plain_json_without_unset_options() -> None:
    document = registry.default_document()
    assert json.loads(json.dumps(document)) == document
    assert None not in _walk(document)
    assert not any(isinstance(v, tuple) for v in _walk(document))
    assert "node_id" not in document["node"]
    assert document["resources"]["gpu"]["device_ids"] == [0]
    assert ConfigModel.model_validate(document) == ConfigModel()


def test_default_document_is_a_fresh_copy() -> None:
    registry.default_document()["network"]["protocol"] = "tcp"
    assert registry.default_document()["network"]["protocol"] == "quic"


def test_environment_variable_names_never_collide() -> None:
    """BUTTERFLY_A_B_C must name one path whether `_` or `__` separates levels (DESIGN 1.3)."""
    flattened: dict[str, str] = {}
    for path in (*registry.options(), *registry.section_paths()):
        name = path.replace(".", "_").upper()
        assert name not in flattened, f"{path} and {flattened[name]} both map to {name}"
        flattened[name] = path
