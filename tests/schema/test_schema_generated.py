"""What is generated from the schema: reference doc, JSON Schema, template."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from schema_helpers import with_value

from butterfly_config.schema.docgen import REGENERATE, render_reference
from butterfly_config.schema.jsonschema import SCHEMA_DIALECT, json_schema
from butterfly_config.schema.registry import default_document, options
from butterfly_config.schema.root import ConfigModel
from butterfly_config.schema.template import SCHEMA_HINT, render_template

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> dict[str, Any]:
    with (reference_dir / "config_schema.toml").open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_reference_doc_is_current() -> None:
    committed = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        f"docs/reference.md is stale; regenerate it with: {REGENERATE}"
    )


def test_reference_doc_lists_every_option() -> None:
    text = render_reference()
    for path, info in options().items():
        table, _, name = path.rpartition(".")
        assert f"[{table}]" in text, table
        assert f"| `{name}` |" in text, path
        assert info.description in text, path


def test_json_schema_identifies_itself(validator: Draft202012Validator) -> None:
    schema = validator.schema
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"]
    assert schema["title"]
    assert schema["additionalProperties"] is False


def test_json_schema_accepts_the_reference_and_the_defaults(
    validator: Draft202012Validator, reference: dict[str, Any]
) -> None:
    assert [e.message for e in validator.iter_errors(reference)] == []
    assert [e.message for e in validator.iter_errors(default_document())] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("network.protocol", "udp"),
        ("network.listen_addr", "nowhere"),
        ("resources.gpu.memory_fraction", 1.5),
        ("resources.memory.max_model_bytes", -1),
        ("metadata.config_version", "v1"),
        ("network.conection", {}),
        ("cluster.members", [{"node_id": "a", "addr": "a:1"}]),
    ],
)
def test_json_schema_rejects_nonsense(
    validator: Draft202012Validator, reference: dict[str, Any], path: str, value: Any
) -> None:
    assert not validator.is_valid(with_value(reference, path, value))


def test_json_schema_carries_descriptions_defaults_and_metadata() -> None:
    network = json_schema()["$defs"]["NetworkSection"]["properties"]
    protocol = network["protocol"]
    assert protocol["enum"] == ["quic", "grpc", "tcp"]
    assert protocol["default"] == "quic"
    assert protocol["description"]
    assert protocol["x-category"] == "static-critical"
    external = network["external_addr"]
    assert "anyOf" not in external and "default" not in external  # TOML has no null
    assert external["examples"] == ["10.0.1.11:7890"]


def test_template_starts_with_the_editor_hint_and_parses_to_the_defaults() -> None:
    text = render_template()
    assert text.startswith(SCHEMA_HINT + "\n")
    document = tomllib.loads(text)
    assert document == default_document()
    ConfigModel.model_validate(document)


def test_template_documents_every_option() -> None:
    text = render_template()
    for path, info in options().items():
        name = path.rpartition(".")[2]
        assert info.description in text, path
        if info.default is None:
            assert f"# {name} = " in text, path


def test_template_unset_options_can_be_uncommented() -> None:
    lines = []
    for line in render_template().splitlines():
        for path, info in options().items():
            name = path.rpartition(".")[2]
            if info.default is None and line.startswith(f"# {name} = "):
                line = line[2:]
        lines.append(line)
    document = tomllib.loads("\n".join(lines))
    model = ConfigModel.model_validate(document)
    assert model.node.work_dir == "/opt/butterfly"
    assert model.byzantine.checkpoint.interval_seconds == 60


def test_template_passes_every_validation_rule_in_development() -> None:
    from butterfly_config.validation.context import ValidationContext
    from butterfly_config.validation.registry import ConfigValidator

    model = ConfigModel.model_validate(tomllib.loads(render_template()))
    assert model.metadata.environment == "development"
    issues = ConfigValidator().validate(model, ValidationContext(gpu_count=0))
    assert [issue.render() for issue in issues if issue.severity == "error"] == []
