"""examples/custom_validation.py runs as a script and shows both custom rules firing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_validation.py"


def test_custom_validation_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    before, _, after = done.stdout.partition("with the site rules:")
    assert "accepted" in before
    assert "[site.production-members]" in after
    assert "[site.model-hint-strategy]" in after
    assert "did you mean 'layer_affinity'?" in after
    assert "cluster.toml:" in after  # issues are located in the file
    assert "Traceback" not in done.stderr
