"""`butterfly config migrate` and `config check-compatibility` through the CLI entry point."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from butterfly_config.cli.main import main
from butterfly_config.loader import ConfigLoader


@pytest.fixture
def legacy(reference_dir: Path) -> Path:
    return reference_dir / "legacy_node_config.toml"


def _migrate(*argv: str) -> int:
    return main(["config", "migrate", *argv])


def test_migrate_writes_a_file_that_loads_in_development(legacy: Path, tmp_path: Path,
                                                         capsys) -> None:
    out = tmp_path / "node.toml"
    assert _migrate("--from", "legacy", "--to", "1.0", "--input", str(legacy),
                    "--output", str(out)) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    config = (ConfigLoader().add_file(out).set_environ({}).set_environment("development")
              .load())
    assert config.get_value("node.node_id") == "node-0"
    assert config.get_value("node.role") == "compute"
    assert config.get_value("network.buffers.max_message_size_bytes") == 2**30
    assert config.get_value("resources.memory.max_total_bytes") == 80 * 2**30
    assert config.get_value("network.compression.algorithm") == "zstd"
    assert config.get_value("metadata.config_version") == "1.0.0"
    assert config.provenance("network.listen_addr").kind == "file"
    text = out.read_text()
    assert text.startswith("# Migrated by `butterfly config migrate`")
    assert "#   cluster.quorum_size = 5" in text
    assert 'was network.max_message_size = "1GB"' in text


def test_migrate_prints_each_change_and_each_unmapped_key(legacy: Path, tmp_path: Path,
                                                          capsys) -> None:
    assert _migrate("--from", "0.9", "--to", "1.0.0", "--input", str(legacy),
                    "--output", str(tmp_path / "n.toml")) == 0
    printed = capsys.readouterr().out
    assert ('network.bind_address = "0.0.0.0:7000" -> network.listen_addr = "0.0.0.0:7000"'
            in printed)
    assert 'node.role = "worker" -> node.role = "compute"' in printed
    assert ('network.compression = "zstd" -> network.compression.enabled = true, '
            'network.compression.algorithm = "zstd"') in printed
    for key in ("cluster.seed_nodes", "cluster.quorum_size", "model.source_path",
                "resources.max_gpu_memory_gb", "timeouts.join_timeout_secs"):
        assert f"  {key} = " in printed


def test_dry_run_writes_nothing(legacy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sub" / "node.toml"
    assert _migrate("--from", "legacy", "--to", "1.0", "--input", str(legacy),
                    "--output", str(out), "--dry-run") == 0
    printed = capsys.readouterr().out
    assert "dry run: nothing written" in printed
    assert "network.max_message_size = \"1GB\" -> " in printed
    assert not out.exists() and not out.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_version_pair_is_exit_2_listing_steps(legacy: Path, tmp_path: Path,
                                                      capsys) -> None:
    out = tmp_path / "n.toml"
    assert _migrate("--from", "1.0", "--to", "2.0", "--input", str(legacy),
                    "--output", str(out)) == 2
    err = capsys.readouterr().err
    assert "no migration from '1.0' to '2.0'" in err
    assert "0.9 -> 1.0.0" in err
    assert not out.exists()


def test_malformed_input_is_exit_1_with_file_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "old.toml"
    bad.write_text('[node]\nid = "a"\nrole = = "worker"\n')
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(bad),
                    "--output", str(tmp_path / "n.toml")) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and "Traceback" not in err
    assert not (tmp_path / "n.toml").exists()


def test_a_key_written_twice_is_exit_1_not_a_traceback(tmp_path: Path, capsys) -> None:
    # TOML forbids it; tomlkit says so with KeyAlreadyPresent, not a ParseError
    old = tmp_path / "old.toml"
    old.write_text("[resources]\nnum_cpu_cores = 4\nnum_cpu_cores = 8\n", encoding="utf-8")
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(old),
                    "--output", str(tmp_path / "new.toml")) == 1
    err = capsys.readouterr().err
    assert "not valid TOML" in err and 'Key "num_cpu_cores" already exists' in err
    assert "Traceback" not in err


def test_missing_input_is_exit_2(tmp_path: Path, capsys) -> None:
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(tmp_path / "none.toml"),
                    "--output", str(tmp_path / "n.toml")) == 2
    assert "no such file" in capsys.readouterr().err


def test_output_equal_to_input_is_refused(legacy: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "old.toml"
    copy.write_bytes(legacy.read_bytes())
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(copy),
                    "--output", str(copy)) == 2
    assert copy.read_bytes() == legacy.read_bytes()


def test_result_that_does_not_load_is_written_but_exit_1(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old.toml"
    old.write_text('[network]\nbind_address = "not-an-address"\nmax_message_size = "1KB"\n')
    out = tmp_path / "n.toml"
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(old),
                    "--output", str(out)) == 1
    printed = capsys.readouterr().out
    assert "does not load yet" in printed
    assert f"{out}:" in printed  # issues point into the written file
    assert tomllib.loads(out.read_text())["network"]["listen_addr"] == "not-an-address"


# -- check-compatibility ----------------------------------------------------------------

@pytest.fixture
def config_file(tmp_path: Path):
    def make(version: str) -> Path:
        path = tmp_path / f"node-{version}.toml"
        path.write_text(f'[metadata]\nconfig_version = "{version}"\n'
                        '[node]\nnode_id = "n1"\ndata_dir = "' + str(tmp_path) + '"\n')
        return path
    return make


def _compat(config: Path, cluster: str) -> int:
    return main(["config", "check-compatibility", "--config", str(config),
                 "--cluster-version", cluster])


@pytest.mark.parametrize(
    ("node", "cluster", "code", "needle"),
    [
        ("1.0.0", "1.0.5", 0, "patch versions differ"),
        ("1.0.0", "1.0.0", 0, "equals the cluster version"),
        ("1.2.0", "1.0.0", 0, "newer than the cluster"),
        ("1.0.0", "1.4.0", 0, "cluster (1.4.0) is newer"),
        ("2.0.0", "1.0.0", 1, "differ in the major version"),
        ("1.0.0", "2.1.0", 1, "incompatible"),
    ],
)
def test_compatibility_matrix(config_file, capsys, node: str, cluster: str, code: int,
                              needle: str) -> None:
    assert _compat(config_file(node), cluster) == code
    assert needle in capsys.readouterr().out


@pytest.mark.parametrize("garbage", ["1.0", "latest", "1.0.0.0", "v2"])
def test_invalid_cluster_version_is_usage_error(config_file, capsys, garbage: str) -> None:
    assert _compat(config_file("1.0.0"), garbage) == 2
    assert "not a semantic version" in capsys.readouterr().err


def test_configuration_that_does_not_load_is_exit_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[byzantine]\nf_value = 0\n')
    assert _compat(bad, "1.0.0") == 1
    err = capsys.readouterr().err
    assert "byzantine.f_value" in err and "Traceback" not in err


def test_set_override_changes_the_version_checked(config_file, capsys) -> None:
    code = main(["config", "check-compatibility", "--config", str(config_file("1.0.0")),
                 "--set", "metadata.config_version=3.0.0", "--cluster-version", "1.0.0"])
    assert code == 1
    assert "configuration version: 3.0.0" in capsys.readouterr().out


def test_a_directory_as_input_is_exit_2_with_a_hint(tmp_path: Path, capsys) -> None:
    assert _migrate("--from", "0.9", "--to", "1.0", "--input", str(tmp_path),
                    "--output", str(tmp_path / "n.toml")) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: is a directory, not a TOML file" in err
    assert "hint: give --input the legacy TOML file itself" in err
    assert "Traceback" not in err
