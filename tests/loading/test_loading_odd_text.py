"""Odd text in any string option of a file: a clear refusal or a configuration that
hashes, never a traceback and never a validation rule reported as crashed.

A NUL character once crashed `config validate` (node.data_dir: reading the stored
node id; include.files: resolving the include) and made the path rules report
themselves as broken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomlkit

from butterfly_config import ConfigLoader
from butterfly_config.errors import ButterflyError
from butterfly_config.schema import registry
from butterfly_config.sources.layer import set_path
from butterfly_config.sources.schema_map import leaf_kind

TEXT_PATHS = [p for p in registry.options()
              if (kind := leaf_kind(p)) is not None and kind.name in ("str", "list")]
ODD = ["a\x00b", "a\nb", " ", "\u202e", "x" * 5000]


def _document(path: str, value: Any) -> str:
    document: dict[str, Any] = {}
    set_path(document, path, value)
    return tomlkit.dumps(document)


@pytest.mark.parametrize("path", TEXT_PATHS)
def test_odd_text_is_refused_clearly_or_loads(path: str, tmp_path: Path) -> None:
    is_list = leaf_kind(path).name == "list"  # type: ignore[union-attr]
    file = tmp_path / "node.toml"
    for text in ODD:
        file.write_text(_document(path, [text] if is_list else text), encoding="utf-8")
        try:
            config = ConfigLoader().add_file(file).set_environ(
                {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}).load()
        except ButterflyError as exc:
            rendered = exc.render()
            assert "validation rule" not in rendered, rendered
            continue
        assert len(config.cluster_hash) == 64 and len(config.full_hash) == 64
        config.to_toml()


@pytest.mark.parametrize("path", ["node.data_dir", "security.tls.cert_file",
                                  "observability.logging.file_path",
                                  "security.api.jwt_secret_file"])
def test_paths_with_a_nul_are_refused_where_they_are_written(path: str, tmp_path: Path) -> None:
    file = tmp_path / "node.toml"
    file.write_text(_document(path, "a\x00b"), encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(file).set_environ({}).load()
    errors = [i for i in caught.value.errors if i.severity == "error"]  # type: ignore[attr-defined]
    assert [(i.path, i.line) for i in errors] == [(path, 2)]
    assert "a path cannot contain a NUL character (at character 2)" in errors[0].message


def test_an_include_with_a_nul_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "node.toml"
    file.write_text(_document("include.files", ["a\x00b"]), encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(file).set_environ({}).load()
    assert "include.files: a file name cannot contain a NUL character" in caught.value.render()


def _nested(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def test_toml_nested_too_deeply_for_the_parser_is_a_syntax_error(tmp_path: Path) -> None:
    # tomllib recurses per level: this once escaped as a RecursionError traceback
    file = tmp_path / "node.toml"
    file.write_text(f"[partition.model_hints]\nm = {{ a = {_nested(3000)} }}\n", encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(file).set_environ({}).load()
    assert "invalid TOML: values are nested too deeply to read" in caught.value.render()
    variable = {"BUTTERFLY_PARTITION_MODEL_HINTS": f"{{m={{a={_nested(3000)}}}}}"}
    file.write_text("", encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(file).set_environ(variable).load()
    assert "values are nested too deeply to read" in caught.value.render()


def test_free_form_values_nest_at_most_32_levels(tmp_path: Path) -> None:
    # deeper values would load, then fail in the JSON encoder (its limit is 255)
    file = tmp_path / "node.toml"
    file.write_text(f"[partition.model_hints]\nm = {{ a = {_nested(31)} }}\n", encoding="utf-8")
    config = ConfigLoader().add_file(file).set_environ({}).load()
    assert len(config.cluster_hash) == 64
    file.write_text(f"[partition.model_hints]\nm = {{ a = {_nested(400)} }}\n", encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(file).set_environ({}).load()
    assert "nested more than 32 levels deep" in caught.value.render()
