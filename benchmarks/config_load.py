"""Loading benchmarks: every figure beside a floor measured in the same run.

Floors: `tomllib.loads` of the reference file (for a full load) and
`python -c pass` (for command wall time). Medians over many runs; memory by
tracemalloc.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import tomllib
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import Figure

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "config_schema.toml"


def median_seconds(fn: Callable[[], Any], runs: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def paired_median_seconds(
    floor: Callable[[], Any], measured: Callable[[], Any], runs: int, warmup: int = 5
) -> tuple[float, float]:
    """Medians of `floor` and `measured` sampled alternately, so that a shared machine
    slowing down for a while weighs on both and not on their ratio."""
    for _ in range(warmup):
        floor()
        measured()
    floors, measures = [], []
    for _ in range(runs):
        start = time.perf_counter()
        floor()
        middle = time.perf_counter()
        measured()
        floors.append(middle - start)
        measures.append(time.perf_counter() - middle)
    return statistics.median(floors), statistics.median(measures)


def wall_seconds(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _retained_bytes(make: Callable[[], Any]) -> int:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = make()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del kept
    return size


def run(quick: bool = False) -> list[Figure]:
    from butterfly_config.canonical import cluster_hash, full_hash
    from butterfly_config.loader import ConfigLoader
    from butterfly_config.schema.root import ConfigModel
    from butterfly_config.validation import ConfigValidator, ValidationContext

    runs = 50 if quick else 300
    text = REFERENCE.read_text(encoding="utf-8")
    env = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}

    def full_load() -> Any:
        config = ConfigLoader().add_file(REFERENCE).set_environ(env).load()
        return config.cluster_hash, config.full_hash

    floor, full = paired_median_seconds(lambda: tomllib.loads(text), full_load, runs)
    document = tomllib.loads(text)
    document.setdefault("metadata", {})["environment"] = "development"
    model_only = median_seconds(lambda: ConfigModel.model_validate(document), runs)
    model = ConfigModel.model_validate(document)
    validator = ConfigValidator()
    ctx = ValidationContext(environment="development", base_dir=REFERENCE.parent, gpu_count=0)
    rules_only = median_seconds(lambda: validator.validate(model, ctx), runs)
    hash_c = median_seconds(lambda: cluster_hash(model), runs * 4)
    hash_f = median_seconds(lambda: full_hash(model), runs * 4)

    one_config = _retained_bytes(lambda: ConfigLoader().add_file(REFERENCE).set_environ(env).load())
    ten = _retained_bytes(
        lambda: [ConfigLoader().add_file(REFERENCE).set_environ(env).load() for _ in range(10)]
    )

    cli_runs = 5 if quick else 15
    py = sys.executable
    child_env = {**os.environ, **env}
    pass_wall = wall_seconds([py, "-c", "pass"], cli_runs)
    validate_wall = wall_seconds(
        [py, "-m", "butterfly_config", "config", "validate", "--config", str(REFERENCE)],
        cli_runs,
        env=child_env,
    )
    help_wall = wall_seconds([py, "-m", "butterfly_config", "--help"], cli_runs)
    ms = 1000.0
    return [
        Figure("tomllib.loads(reference) [floor]", floor * ms, "ms"),
        Figure("full load: file+env+merge+validate+hashes", full * ms, "ms",
               ratio=full / floor, target="<= 1.5x floor"),
        Figure("ConfigModel.model_validate (pydantic)", model_only * ms, "ms"),
        Figure("validation rules", rules_only * ms, "ms"),
        Figure("validate in memory (model + rules)", (model_only + rules_only) * ms, "ms",
               target="<= 0.3 ms"),
        Figure("cluster_hash", hash_c * ms, "ms", target="<= 0.05 ms"),
        Figure("full_hash", hash_f * ms, "ms"),
        Figure("memory: one loaded config", one_config / 1024, "KiB", target="<= 64 KiB"),
        Figure("memory: 10 retained configs", ten / 1024, "KiB", target="<= 512 KiB"),
        Figure("python -c pass [floor]", pass_wall * ms, "ms"),
        Figure("butterfly config validate (wall)", validate_wall * ms, "ms",
               ratio=validate_wall / pass_wall, target="<= 400 ms"),
        Figure("butterfly --help (wall)", help_wall * ms, "ms",
               ratio=help_wall / pass_wall, target="<= 150 ms"),
    ]
