"""The GPU probe: nvidia-smi output, the /proc fallback, timeouts, and the per-process cache."""

from __future__ import annotations

import stat
from pathlib import Path

from butterfly_config import gpu
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _proc_dir(tmp_path: Path, gpus: int) -> Path:
    root = tmp_path / "gpus"
    root.mkdir()
    for index in range(gpus):
        (root / f"0000:0{index}:00.0").mkdir()
    return root


def test_parse_nvidia_smi_indices() -> None:
    assert gpu.parse_nvidia_smi_indices("0\n1\n2\n") == 3
    assert gpu.parse_nvidia_smi_indices("") == 0
    assert gpu.parse_nvidia_smi_indices("0\n  1 \nNo devices were found\n") == 2


def test_nvidia_smi_answer_wins(tmp_path: Path) -> None:
    tool = _script(tmp_path, 'printf "0\\n1\\n"')
    assert gpu.probe_gpu_count(nvidia_smi=tool, proc_dir=_proc_dir(tmp_path, 4)) == 2


def test_failing_nvidia_smi_falls_back_to_proc(tmp_path: Path) -> None:
    tool = _script(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert gpu.probe_gpu_count(nvidia_smi=tool, proc_dir=_proc_dir(tmp_path, 3)) == 3


def test_hanging_nvidia_smi_times_out(tmp_path: Path) -> None:
    tool = _script(tmp_path, "exec sleep 5")
    count = gpu.probe_gpu_count(nvidia_smi=tool, proc_dir=tmp_path / "absent", timeout=0.2)
    assert count == 0


def test_no_driver_means_no_gpus(tmp_path: Path) -> None:
    missing_tool = str(tmp_path / "no-such-nvidia-smi")
    assert gpu.probe_gpu_count(nvidia_smi=missing_tool, proc_dir=tmp_path / "absent") == 0


def test_machine_count_is_probed_once_per_process() -> None:
    gpu.machine_gpu_count.cache_clear()
    first = gpu.machine_gpu_count()
    assert gpu.machine_gpu_count() == first
    assert gpu.machine_gpu_count.cache_info().hits >= 1
    assert gpu.machine_gpu_count.cache_info().misses == 1


def test_context_probes_only_without_an_override() -> None:
    gpu.machine_gpu_count.cache_clear()
    assert ValidationContext(gpu_count=5).available_gpus() == 5
    assert gpu.machine_gpu_count.cache_info().misses == 0
    assert ValidationContext().available_gpus() == gpu.machine_gpu_count()


def test_validation_of_a_gpu_less_config_never_probes() -> None:
    gpu.machine_gpu_count.cache_clear()
    ConfigValidator().validate(ConfigModel(), ValidationContext(check_paths=False))
    assert gpu.machine_gpu_count.cache_info().misses == 0
