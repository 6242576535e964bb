"""`butterfly config defaults | init | schema` through the real entry point."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from butterfly_config.cli.main import main
from butterfly_config.schema.jsonschema import json_schema
from butterfly_config.schema.registry import default_document
from butterfly_config.schema.template import SCHEMA_HINT


def test_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "defaults"]) == 0
    assert tomllib.loads(capsys.readouterr().out) == default_document()


def test_defaults_to_file(tmp_path: Path) -> None:
    target = tmp_path / "defaults.toml"
    assert main(["config", "defaults", "--output", str(target)]) == 0
    assert tomllib.loads(target.read_text()) == default_document()
    assert [p.name for p in tmp_path.iterdir()] == ["defaults.toml"]  # no temp file left


def test_init_writes_a_template_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "butterfly.toml"
    assert main(["config", "init", "--output", str(target)]) == 0
    assert target.read_text().startswith(SCHEMA_HINT)
    assert tomllib.loads(target.read_text()) == default_document()

    target.write_text("# mine\n")
    capsys.readouterr()
    assert main(["config", "init", "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert target.read_text() == "# mine\n"

    assert main(["config", "init", "--output", str(target), "--force"]) == 0
    assert target.read_text().startswith(SCHEMA_HINT)


def test_init_into_a_missing_directory_is_an_io_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "init", "--output", str(tmp_path / "no" / "x.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_schema_to_stdout_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    target = tmp_path / "butterfly.schema.json"
    assert main(["config", "schema", "--output", str(target)]) == 0
    assert json.loads(target.read_text()) == json_schema()
