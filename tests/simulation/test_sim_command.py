"""`butterfly sim` and the determinism it promises."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from sim_broken_replicas import AppliesOnPrepareCertificate

from butterfly_config.cli.main import main
from butterfly_config.consensus.sim import runner
from butterfly_config.consensus.sim.runner import SimParams, Simulation, run_seed


def test_one_seed_reproduces_the_whole_run() -> None:
    params = SimParams(nodes=5, faulty=1, byzantine="all")
    a, b = run_seed(params, 11), run_seed(params, 11)
    assert a.trace_hash == b.trace_hash
    assert (a.commits, a.aborts, a.messages, a.bytes_sent, a.end_ms, a.byzantine) == (
        b.commits, b.aborts, b.messages, b.bytes_sent, b.end_ms, b.byzantine
    )
    assert run_seed(params, 12).trace_hash != a.trace_hash


def test_runs_do_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "from butterfly_config.consensus.sim.runner import SimParams, run_seed;"
        "print(run_seed(SimParams(nodes=4, faulty=1, byzantine='twins'), 5).trace_hash)"
    )
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": str(salt)},
        ).stdout.strip()
        for salt in (1, 2)
    }
    assert len(hashes) == 1


def test_sim_prints_a_summary_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--nodes", "4", "--faulty", "1", "--seeds", "5", "--network", "calm"])
    out = capsys.readouterr().out
    assert code == 0
    for label in ("runs:", "commits:", "aborts:", "view changes:", "invariant violations: 0",
                  "liveness failures:    0", "messages per commit:", "bytes per commit:"):
        assert label in out


def test_sim_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--nodes", "4", "--faulty", "1", "--seeds", "3", "--seed-start", "40",
                 "--byzantine", "equivocate", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["runs"] == 3 and data["ok"] is True
    assert data["commits"] > 0 and data["messages_per_commit"] > 0


def test_a_violation_exits_one_and_names_the_seed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_run(params: SimParams, seed: int) -> runner.RunResult:
        params = dataclasses.replace(params, replica_class=AppliesOnPrepareCertificate)
        return Simulation(params, seed).run()

    monkeypatch.setattr(runner, "run_seed", broken_run)
    code = main(["sim", "--seeds", "10", "--byzantine", "none", "--trace"])
    out = capsys.readouterr().out
    assert code == 1
    assert "VIOLATION: [integrity]" in out
    assert "result:               FAILED" in out
    assert "invariant violations: 0" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--nodes", "3"],
        ["--nodes", "32"],
        ["--nodes", "4", "--faulty", "2"],
        ["--seeds", "0"],
        ["--byzantine", "liar"],
    ],
)
def test_bad_arguments_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()
