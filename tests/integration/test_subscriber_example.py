"""examples/subscriber.py runs standalone: an in-process component vetoes and follows changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def test_subscriber_example_vetoes_and_follows_changes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUTTERFLY_")}
    env["NO_PROXY"] = "*"
    done = subprocess.run([sys.executable, str(EXAMPLE), "--dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "UNEXPECTED" not in out and "Traceback" not in done.stderr
    # The cluster-wide change reached the component, the local one too.
    assert "[batch-scheduler] policy predictive -> least_loaded" in out
    assert "[batch-scheduler] queue depth 100 -> 8" in out
    # Both vetoes came back to the operator as 409 with the component's reason.
    assert ("refused (HTTP 409): update aborted by scheduler-host: batch-scheduler: "
            "max_queue_depth 2 is below the 3 batches queued; nothing applied") in out
    assert "refused (HTTP 409): update aborted by the coordinator: batch-scheduler: " \
           "no 'custom' policy here" in out
    # The node persisted what it applied, and nothing of what was refused.
    mirror = (tmp_path / "data" / "config" / "current.toml").read_text(encoding="utf-8")
    assert 'policy = "least_loaded"' in mirror
    assert "max_queue_depth = 8" in mirror
