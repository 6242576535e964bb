"""Environment variables and arguments holding bytes that are not UTF-8 reach Python
with surrogate escapes. Such text can be neither hashed nor sent to a peer, so it is
refused where it is read, naming the variable or flag and never repeating the value
(it may be a secret); before, some options loaded "valid" and the node crashed later."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config import ButterflyConfig, ConfigLoader
from butterfly_config.errors import ButterflyError, ConfigError
from butterfly_config.schema import registry

NOT_UTF8 = "Q7v\udcffW2p"  # what os.environ holds for the bytes b"Q7v\xffW2p"
PATHS = [p for p in registry.options() if not p.startswith("include.")]


def _refusal(loader: ConfigLoader, path: str) -> str:
    with pytest.raises(ButterflyError) as caught:
        loader.load()
    errors = [i for i in getattr(caught.value, "errors", []) if i.severity == "error"]
    mine = [i for i in errors if i.path == path]
    assert mine, [i.render() for i in errors]
    return mine[0].render()


@pytest.mark.parametrize("path", PATHS)
def test_every_option_refuses_non_utf8_text_from_the_environment_and_flags(
    path: str, tmp_path: Path
) -> None:
    file = tmp_path / "node.toml"
    file.write_text("", encoding="utf-8")
    variable = "BUTTERFLY_" + path.upper().replace(".", "_")
    for loader, named in (
        (ConfigLoader().add_file(file).set_environ({variable: NOT_UTF8}), variable),
        (ConfigLoader().add_file(file).set_environ({}).override_value(path, NOT_UTF8), "cli"),
    ):
        text = _refusal(loader, path)
        assert named in text
        assert "not valid UTF-8 text (at character 4)" in text
        assert "Q7v" not in text and "W2p" not in text  # the value itself is not shown


def test_free_form_tables_refuse_non_utf8_keys_and_values_from_python() -> None:
    for hints in ({"m": {"s": NOT_UTF8}}, {"m": {NOT_UTF8: 1}}, {NOT_UTF8: {"s": "x"}}):
        with pytest.raises(ConfigError) as caught:
            ButterflyConfig.defaults().with_values({"partition.model_hints": hints})
        assert "not valid UTF-8" in caught.value.errors[0].message


@pytest.mark.parametrize("kind", ["toml", "env"])
def test_files_that_are_not_utf8_are_refused_with_the_byte(kind: str, tmp_path: Path) -> None:
    file = tmp_path / "node.toml"
    env = tmp_path / "node.env"
    if kind == "toml":
        file.write_bytes(b'[metadata]\ndescription = "a\xffb"\n')
        loader = ConfigLoader().add_file(file).set_environ({})
    else:
        file.write_text("", encoding="utf-8")
        env.write_bytes(b"BUTTERFLY_METADATA_DESCRIPTION=a\xffb\n")
        loader = ConfigLoader().add_file(file).set_environ({}).add_env_file(env)
    with pytest.raises(ButterflyError) as caught:
        loader.load()
    text = caught.value.render()
    assert "not UTF-8 text (byte" in text and "configuration files must be UTF-8" in text
    assert str(file if kind == "toml" else env) in text
