"""How many GPUs this machine has, for the rule that checks `resources.gpu.device_ids`.

Asked once per process: `nvidia-smi` (NVML) when it is on PATH, else the
driver's /proc listing; no driver means no GPUs. The probe never raises and
never takes longer than a short timeout, because validation must not hang on
a wedged driver.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

NVIDIA_SMI_TIMEOUT_SECS = 2.0
PROC_GPUS_DIR = Path("/proc/driver/nvidia/gpus")
_NVIDIA_SMI_ARGS = ("--query-gpu=index", "--format=csv,noheader")


def parse_nvidia_smi_indices(output: str) -> int:
    """Count the GPU index lines `nvidia-smi --query-gpu=index` printed."""
    return sum(1 for line in output.splitlines() if line.strip().isdigit())


def _count_with_nvidia_smi(executable: str, timeout: float) -> int | None:
    try:
        done = subprocess.run(
            [executable, *_NVIDIA_SMI_ARGS],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return parse_nvidia_smi_indices(done.stdout)


def _count_in_proc(proc_dir: Path) -> int:
    try:
        return sum(1 for entry in proc_dir.iterdir() if entry.is_dir())
    except OSError:
        return 0


def probe_gpu_count(
    *,
    nvidia_smi: str | None = None,
    proc_dir: Path = PROC_GPUS_DIR,
    timeout: float = NVIDIA_SMI_TIMEOUT_SECS,
) -> int:
    """Probe now (uncached). `nvidia_smi=None` looks the tool up on PATH."""
    executable = nvidia_smi if nvidia_smi is not None else shutil.which("nvidia-smi")
    if executable:
        counted = _count_with_nvidia_smi(executable, timeout)
        if counted is not None:
            return counted
    return _count_in_proc(proc_dir)


@functools.cache
def machine_gpu_count() -> int:
    """GPUs on this machine, probed on first use and remembered for the process."""
    return probe_gpu_count()
