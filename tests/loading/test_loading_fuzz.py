"""Fuzzing: random bytes and mutated reference files never raise anything but our own errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butterfly_config import ConfigLoader
from butterfly_config.errors import ButterflyError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REFERENCE = (Path(__file__).resolve().parents[2].parent / "shared" / "reference"
             / "config_schema.toml")


def load_bytes(data: bytes) -> None:
    """Load `data` as a config file; only the library's own errors may come out."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(data)
        try:
            config = (ConfigLoader().add_file(path).set_environ({}).check_paths(False)
                      .set_gpu_count(0).load())
        except ButterflyError as exc:
            exc.render()  # rendering must not fail either
        else:
            config.to_toml()
            _ = config.cluster_hash, [w.render() for w in config.warnings]


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    load_bytes(data)


@st.composite
def mutated_reference(draw: st.DrawFn) -> bytes:
    lines = REFERENCE.read_bytes().splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "flip", "insert", "swap"]))
        line = lines[where]
        if action == "delete":
            del lines[where]
        elif action == "duplicate":
            lines.insert(where, line)
        elif action == "flip" and line:
            at = draw(st.integers(0, len(line) - 1))
            byte = draw(st.integers(0, 255))
            lines[where] = line[:at] + bytes([byte]) + line[at + 1:]
        elif action == "insert":
            lines.insert(where, draw(st.sampled_from([
                b"[network]\n", b"x = 1\n", b"f_value = -1\n", b"[[cluster.members]]\n",
                b"level = 99\n", b"enabled = \"yes\"\n", b"[include]\nfiles = [\"a.toml\"]\n",
                b"node_id = \"\"\n", b"= 3\n", b"\"\"\"\n",
            ])))
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[where], lines[other] = lines[other], lines[where]
        if not lines:
            break
    return b"".join(lines)


@FUZZ
@given(mutated_reference())
def test_mutated_reference_files(data: bytes) -> None:
    load_bytes(data)
