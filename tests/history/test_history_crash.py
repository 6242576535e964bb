"""Crash safety: a writer killed with SIGKILL loses nothing it reported as committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from history_helpers import doc_hash

from butterfly_config.history import HistoryStore, read_mirror

HELPERS = Path(__file__).resolve().parent

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from history_helpers import commit
    from butterfly_config.history import HistoryStore, mirror_path, write_mirror

    data_dir = sys.argv[1]
    store = HistoryStore.open(data_dir)
    head = store.head()
    n = 0 if head is None else head[0] + 1
    while True:
        entry = commit(store, n)
        store.audit("writer", "commit", "ok", {"revision": n})
        write_mirror(mirror_path(data_dir), n, entry.doc_hash, "x = %d\\n" % n * 200)
        print(n, flush=True)
        n += 1
    """
)


def _run_and_kill(data_dir: Path, min_revision: int) -> int:
    """Start the writer, SIGKILL it mid-loop; returns the last revision it reported."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(HELPERS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    last = -1
    deadline = time.monotonic() + 60
    try:
        while last < min_revision and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert last >= min_revision, "the writer did not get far enough"
    return last


def test_sigkill_mid_loop_keeps_every_committed_row(tmp_path: Path) -> None:
    # several kill/restart rounds: each writer resumes the chain the previous one left
    targets = (30, 70, 120)
    for target in targets:
        last_reported = _run_and_kill(tmp_path, target)
    assert os.path.exists(tmp_path / "config" / "history.db-wal")  # killed, not closed cleanly
    with HistoryStore.open(tmp_path) as store:
        assert store.integrity_check() == ["ok"]
        head = store.head()
        assert head is not None and head[0] >= last_reported
        report = store.verify_chain(hash_document=doc_hash)
        assert report.ok, report
        assert report.checked == head[0] + 1
        # The writer commits a revision, then audits it: a kill between the two loses that
        # one audit row (the next writer starts at the following revision), so each
        # earlier round may be one short; everything the last writer reported is there.
        earlier_rounds = len(targets) - 1
        assert len(store.list_audit(limit=10_000)) >= last_reported + 1 - earlier_rounds
        appended = store.make_entry(
            document=b"after",
            doc_hash=doc_hash(b"after"),
            proposer="n",
            initiator="i",
            action="update",
        )
        store.append_revision(appended)  # the reopened store keeps extending the chain
    mirror = read_mirror(tmp_path / "config" / "current.toml")
    assert last_reported <= mirror.revision <= head[0]
    assert mirror.text == f"x = {mirror.revision}\n" * 200
