"""A node opens the paths its configuration was checked with, from any working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config.loader import ConfigLoader
from butterfly_config.node.mirror_writer import write_config_mirror
from butterfly_config.node.runtime import NodeRuntime, log_settings
from butterfly_config.paths import resolve_path


def test_a_relative_data_dir_is_opened_beside_the_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "etc"
    home.mkdir()
    path = home / "node.toml"
    path.write_text(
        '[node]\nnode_id = "solo"\ndata_dir = "state"\n'
        '[observability.logging]\noutput = "stderr"\n'
        '[security.tls]\nenabled = false\n', encoding="utf-8")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # a service manager starts the node in /
    runtime = NodeRuntime(base=ConfigLoader().add_file(path).load(), config_paths=[path])
    runtime.build()
    try:
        assert Path(runtime.store.path).parent == home / "state" / "config"
        assert Path(runtime.store.path).exists()
        write_config_mirror(runtime.manager.config, runtime.manager.revision)
        assert (home / "state" / "config" / "current.toml").exists()  # the mirror, beside it
        assert list(workdir.iterdir()) == []
    finally:
        runtime.manager.close()
        runtime.store.close()


def test_key_paths_expand_home_as_validation_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    # the node opens key and TLS files at these paths (the rule validation checks them by)
    base = "/etc/butterfly"
    assert Path(resolve_path("~/keys/node.pem", base)) == tmp_path / "keys" / "node.pem"
    assert Path(resolve_path("keys/node.pem", base)) == Path("/etc/butterfly/keys/node.pem")
    assert Path(resolve_path("/abs/node.pem", base)) == Path("/abs/node.pem")


def test_a_relative_log_file_is_written_where_validation_checked_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "node.toml"
    path.write_text('[observability.logging]\noutput = "file"\nfile_path = "log/node.log"\n',
                    encoding="utf-8")
    (tmp_path / "log").mkdir()
    monkeypatch.chdir(tmp_path / "log")
    config = ConfigLoader().add_file(path).set_environ({}).load()
    assert log_settings(config).file_path == str(tmp_path / "log" / "node.log")
