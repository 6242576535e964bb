"""Input files are read up to a bound: `/dev/zero` given as a configuration, include,
policy, key or secret file is a clear refusal, not a read until memory runs out.
Pipes (`--config <(generate)`) still load."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from butterfly_config import input_files
from butterfly_config.cli.main import main
from butterfly_config.errors import ConfigIOError
from butterfly_config.history.mirror import read_mirror
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.security.jwt_auth import load_jwt_secret
from butterfly_config.node.security.rbac import Policy
from butterfly_config.node.security.tls_material import load_certificate

ENDLESS = "/dev/zero"
TOO_LARGE = "larger than 16 MiB"

needs_dev_zero = pytest.mark.skipif(not Path(ENDLESS).exists(), reason="no /dev/zero here")


def test_the_bound_is_exact(tmp_path: Path) -> None:
    at_bound = tmp_path / "at_bound"
    with open(at_bound, "wb") as handle:
        handle.truncate(input_files.MAX_INPUT_FILE_BYTES)
    assert len(input_files.read_bytes(at_bound)) == input_files.MAX_INPUT_FILE_BYTES
    with open(at_bound, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(OSError) as info:
        input_files.read_bytes(at_bound)
    assert info.value.errno == errno.EFBIG
    assert info.value.strerror is not None and TOO_LARGE in info.value.strerror


@needs_dev_zero
def test_config_validate_refuses_an_endless_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "validate", "--config", ENDLESS])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{ENDLESS}: cannot be read: {TOO_LARGE}" in out + err
    assert "Traceback" not in out + err


@needs_dev_zero
def test_an_endless_include_is_refused_naming_the_file_that_includes_it(tmp_path: Path) -> None:
    main_file = tmp_path / "node.toml"
    main_file.write_text(f'[include]\nfiles = ["{ENDLESS}"]\n', encoding="utf-8")
    with pytest.raises(ConfigIOError) as info:
        ConfigLoader().add_file(main_file).load()
    message = info.value.render()
    assert TOO_LARGE in message and str(main_file) in message


@needs_dev_zero
@pytest.mark.parametrize("read", [
    lambda: Policy.load(ENDLESS),
    lambda: load_jwt_secret(ENDLESS),
    lambda: load_certificate(ENDLESS),
    lambda: read_mirror(ENDLESS),
], ids=["rbac-policy", "jwt-secret", "tls-certificate", "mirror"])
def test_node_files_that_never_end_are_refused(read: object) -> None:
    with pytest.raises(ConfigIOError) as info:
        read()  # type: ignore[operator]
    assert TOO_LARGE in info.value.render()


def test_a_configuration_arriving_through_a_pipe_still_loads(tmp_path: Path) -> None:
    fifo = tmp_path / "generated.toml"
    os.mkfifo(fifo)

    def generate() -> None:
        with open(fifo, "w", encoding="utf-8") as handle:
            handle.write("[scheduling]\npolicy = 'least_loaded'\n[security.tls]\nenabled = false\n")

    writer = threading.Thread(target=generate)
    writer.start()
    try:
        config = ConfigLoader().add_file(fifo).load()
    finally:
        writer.join(timeout=10)
    assert config.get_value("scheduling.policy") == "least_loaded"


def test_a_file_that_grows_while_it_is_read_is_read_whole_or_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file is read with a buffer of its size; when it holds more by the time
    it is read (an editor still writing, a log), the rest is read too, up to the bound."""
    grown = tmp_path / "grown.toml"
    grown.write_bytes(b"x" * 100)
    real_fstat = os.fstat

    def smaller(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        fields = list(info)
        fields[6] = 10  # st_size as it was a moment before
        return os.stat_result(fields)

    monkeypatch.setattr(input_files.os, "fstat", smaller)
    assert input_files.read_bytes(grown) == b"x" * 100
    monkeypatch.setattr(input_files, "MAX_INPUT_FILE_BYTES", 50)
    with pytest.raises(OSError) as info:
        input_files.read_bytes(grown)
    assert info.value.errno == errno.EFBIG
