"""current.toml: atomic replacement and detection of damaged mirrors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from blake3 import blake3

from butterfly_config.errors import ConfigIOError
from butterfly_config.history import MirrorCorrupt, mirror_path, read_mirror, write_mirror

BODY = '[scheduling]\npolicy = "fifo"\n\n[metadata]\nconfig_version = "1.2.0"\n'
HASH = "c0ffee" + "0" * 58


def test_round_trip_and_header(tmp_path: Path) -> None:
    path = mirror_path(tmp_path)
    assert path == tmp_path / "config" / "current.toml"
    write_mirror(path, 7, HASH, BODY, timestamp=0.0)
    text = path.read_text()
    assert "# revision: 7\n" in text
    assert f"# cluster_hash: {HASH}\n" in text
    assert "# written_at: 1970-01-01T00:00:00Z\n" in text
    assert f"# body_blake3: {blake3(BODY.encode()).hexdigest()}\n" in text
    assert text.endswith(BODY)
    revision, cluster_hash, body = read_mirror(path)
    assert (revision, cluster_hash, body) == (7, HASH, BODY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_mirror_is_valid_toml_with_the_same_content(tmp_path: Path) -> None:
    import tomllib

    path = write_mirror(tmp_path / "current.toml", 1, HASH, BODY)
    assert tomllib.loads(path.read_text()) == tomllib.loads(BODY)


def test_replacement_and_empty_body(tmp_path: Path) -> None:
    path = tmp_path / "current.toml"
    write_mirror(path, 1, HASH, BODY)
    write_mirror(path, 2, "ab" * 32, "")
    assert read_mirror(path) == (2, "ab" * 32, "")
    assert [p.name for p in tmp_path.iterdir()] == ["current.toml"]


def test_truncated_mirror_is_detected(tmp_path: Path) -> None:
    path = write_mirror(tmp_path / "current.toml", 3, HASH, BODY)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(MirrorCorrupt, match="truncated or edited"):
        read_mirror(path)
    path.write_bytes(data[:40])
    with pytest.raises(MirrorCorrupt, match="header"):
        read_mirror(path)


def test_edited_mirror_is_detected(tmp_path: Path) -> None:
    path = write_mirror(tmp_path / "current.toml", 3, HASH, BODY)
    path.write_text(path.read_text().replace('"fifo"', '"lifo"'))
    with pytest.raises(MirrorCorrupt) as info:
        read_mirror(path)
    assert info.value.exit_code == 2 and "current.toml" in info.value.message


def test_foreign_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "current.toml"
    path.write_text(BODY)
    with pytest.raises(MirrorCorrupt, match="header is missing"):
        read_mirror(path)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MirrorCorrupt, match="UTF-8"):
        read_mirror(path)
    with pytest.raises(ConfigIOError, match="no configuration mirror"):
        read_mirror(tmp_path / "absent.toml")


def test_failed_write_never_replaces_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_mirror(tmp_path / "current.toml", 1, HASH, BODY)
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ConfigIOError, match="No space left"):
        write_mirror(path, 2, HASH, BODY + "# more\n")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["current.toml"]  # temp file removed


def test_partial_temp_file_from_a_crash_is_ignored_and_cleaned(tmp_path: Path) -> None:
    path = write_mirror(tmp_path / "current.toml", 1, HASH, BODY)
    stale = tmp_path / ".current.toml.999-deadbeef.tmp"
    stale.write_text("# butterfly-config: half a fi")
    assert read_mirror(path).revision == 1
    write_mirror(path, 2, HASH, BODY)
    assert not stale.exists()
    assert read_mirror(path).revision == 2
