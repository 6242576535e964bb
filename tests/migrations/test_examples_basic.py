"""examples/basic_usage.py runs as a script and prints what the library computes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from butterfly_config.loader import ConfigLoader

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "basic_usage.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUTTERFLY_")}
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_basic_usage_on_the_reference_file(reference_dir: Path) -> None:
    done = _run()
    assert done.returncode == 0, done.stderr
    reference = reference_dir / "config_schema.toml"
    expected = (ConfigLoader().add_file(reference).set_environ({})
                .set_environment("development").load())
    out = done.stdout
    assert f"cluster_hash: {expected.cluster_hash}" in out
    assert f"full_hash:    {expected.full_hash}" in out
    assert "scope=cluster mutability=dynamic -> dynamic-consensus" in out
    assert "scope=node mutability=static -> static-local" in out
    assert f"source: file {reference}:" in out
    assert "node 'node-001' (compute)" in out
    assert "Traceback" not in done.stderr


def test_basic_usage_with_another_file_and_a_missing_one(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(f'[node]\nnode_id = "n7"\ndata_dir = "{tmp_path}"\n'
                      '[network.compression]\nalgorithm = "lz4"\nlevel = 4\n')
    done = _run(str(config))
    assert done.returncode == 0, done.stderr
    assert "node 'n7'" in done.stdout and "compression: lz4" in done.stdout
    assert f"source: file {config}:" in done.stdout
    missing = _run(str(tmp_path / "absent.toml"))
    assert missing.returncode == 2
    assert "absent.toml" in missing.stderr and "Traceback" not in missing.stderr
