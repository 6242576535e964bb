"""The SQLite history store: chain rules, lookups, tamper detection and side tables."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from history_helpers import commit, doc_hash, document

from butterfly_config.history import (
    GENESIS_PARENT,
    AmbiguousVersion,
    AuditNote,
    ChainViolation,
    Change,
    HistoryCorrupt,
    HistoryError,
    HistoryInUse,
    HistoryStore,
    RevisionEntry,
    RevisionNotFound,
    VersionMatch,
    entry_digest,
)
from butterfly_config.history.schema import SCHEMA_VERSION


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path) as opened:
        yield opened


def raw(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "config" / "history.db", isolation_level=None)


def test_layout_permissions_and_pragmas(tmp_path: Path, store: HistoryStore) -> None:
    directory = tmp_path / "config"
    assert store.path == directory / "history.db"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    with raw(tmp_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "revisions",
        "local_changes",
        "audit",
        "reputation",
        "consensus_state",
        "meta",
    } <= tables
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_append_and_read_back(store: HistoryStore) -> None:
    assert store.latest() is None and store.head() is None
    first = commit(store, 0)
    assert first.revision == 0 and first.parent_digest == GENESIS_PARENT
    second = commit(store, 1)
    assert second.parent_digest == first.entry_digest
    assert second.entry_digest == entry_digest(1, second.doc_hash, first.entry_digest)
    assert store.get_revision(1) == second
    assert store.latest() == second
    assert store.head() == (1, second.entry_digest)
    assert store.get_revision(7) is None
    assert store.get_revision(1).changes == (Change("scheduling.n", 0, 1),)  # type: ignore[union-attr]


def test_list_revisions_newest_first_with_paging(store: HistoryStore) -> None:
    for n in range(10):
        commit(store, n)
    assert [e.revision for e in store.list_revisions(limit=3)] == [9, 8, 7]
    assert [e.revision for e in store.list_revisions(limit=3, before=7)] == [6, 5, 4]
    assert [e.revision for e in store.list_revisions(limit=100, before=2)] == [1, 0]
    assert [e.revision for e in store.iter_revisions(5)] == [5, 6, 7, 8, 9]


def test_iter_revisions_crosses_batches(store: HistoryStore) -> None:
    for n in range(150):
        commit(store, n)
    assert [e.revision for e in store.iter_revisions()] == list(range(150))


def test_gap_is_refused(store: HistoryStore) -> None:
    commit(store, 0)
    latest = store.latest()
    assert latest is not None
    doc = document(2)
    gap = RevisionEntry(
        revision=2,
        document=doc,
        doc_hash=doc_hash(doc),
        parent_digest=latest.entry_digest,
        entry_digest=entry_digest(2, doc_hash(doc), latest.entry_digest),
        timestamp=1.0,
        proposer="n",
        initiator="i",
        action="update",
    )
    with pytest.raises(ChainViolation, match="next revision is 1"):
        store.append_revision(gap)
    assert store.head() == (0, latest.entry_digest)


def test_repeated_revision_is_refused(store: HistoryStore) -> None:
    first = commit(store, 0)
    with pytest.raises(ChainViolation, match="already stored"):
        store.append_revision(first)


def test_wrong_parent_is_refused(store: HistoryStore) -> None:
    commit(store, 0)
    doc = document(1)
    foreign_parent = "f" * 64
    entry = RevisionEntry(
        revision=1,
        document=doc,
        doc_hash=doc_hash(doc),
        parent_digest=foreign_parent,
        entry_digest=entry_digest(1, doc_hash(doc), foreign_parent),
        timestamp=1.0,
        proposer="n",
        initiator="i",
        action="patch",
    )
    with pytest.raises(ChainViolation, match="parent digest"):
        store.append_revision(entry)
    assert store.latest() is not None and store.latest().revision == 0  # type: ignore[union-attr]


def test_digest_not_matching_content_is_refused(store: HistoryStore) -> None:
    entry = store.make_entry(
        document=b"x", doc_hash=doc_hash(b"x"), proposer="n", initiator="i", action="update"
    )
    with pytest.raises(ChainViolation, match="does not match its content"):
        store.append_revision(dataclasses.replace(entry, doc_hash=doc_hash(b"y")))


def test_verify_chain_ok_and_certificate_callback(store: HistoryStore) -> None:
    for n in range(5):
        commit(store, n, certificate=b"good" if n != 3 else b"forged")
    report = store.verify_chain(hash_document=doc_hash)
    assert report.ok and report.checked == 5 and report.head_revision == 4
    bad = store.verify_chain(lambda e: e.certificate == b"good", doc_hash)
    assert not bad.ok and bad.first_bad_revision == 3
    assert "certificate" in bad.reason
    assert bad.checked == 3


def test_verify_chain_survives_a_raising_certificate_check(store: HistoryStore) -> None:
    commit(store, 0)

    def explode(entry: RevisionEntry) -> bool:
        raise ValueError("truncated certificate")

    report = store.verify_chain(explode)
    assert not report.ok and "cannot be checked" in report.reason


def test_empty_store_verifies(store: HistoryStore) -> None:
    report = store.verify_chain()
    assert report.ok and report.checked == 0 and report.head_revision is None


def test_tampered_document_is_found(tmp_path: Path, store: HistoryStore) -> None:
    for n in range(6):
        commit(store, n)
    with raw(tmp_path) as conn:
        conn.execute("UPDATE revisions SET document = ? WHERE revision = 3", (b'{"evil":1}',))
    report = store.verify_chain(hash_document=doc_hash)
    assert (report.ok, report.first_bad_revision) == (False, 3)
    assert "does not hash" in report.reason


def test_tampered_doc_hash_is_found_without_a_hash_function(
    tmp_path: Path, store: HistoryStore
) -> None:
    for n in range(6):
        commit(store, n)
    evil = doc_hash(b'{"evil":1}')
    with raw(tmp_path) as conn:
        conn.execute(
            "UPDATE revisions SET document = ?, doc_hash = ? WHERE revision = 2",
            (b'{"evil":1}', evil),
        )
    report = store.verify_chain()
    assert (report.ok, report.first_bad_revision) == (False, 2)
    assert "entry digest" in report.reason


def test_rewritten_digest_breaks_the_next_link(tmp_path: Path, store: HistoryStore) -> None:
    for n in range(6):
        commit(store, n)
    evil_doc = b'{"evil":1}'
    with raw(tmp_path) as conn:
        parent = conn.execute("SELECT parent_digest FROM revisions WHERE revision = 2").fetchone()[
            0
        ]
        forged = entry_digest(2, doc_hash(evil_doc), parent)
        conn.execute(
            "UPDATE revisions SET document = ?, doc_hash = ?, entry_digest = ? WHERE revision = 2",
            (evil_doc, doc_hash(evil_doc), forged),
        )
    report = store.verify_chain(hash_document=doc_hash)
    assert (report.ok, report.first_bad_revision) == (False, 3)
    assert "parent digest" in report.reason


def test_removed_middle_row_is_a_gap(tmp_path: Path, store: HistoryStore) -> None:
    for n in range(6):
        commit(store, n)
    with raw(tmp_path) as conn:
        conn.execute("DELETE FROM revisions WHERE revision = 2")
    report = store.verify_chain()
    assert (report.ok, report.first_bad_revision) == (False, 2)
    assert "missing" in report.reason


def test_removed_tail_rows_are_a_truncation(tmp_path: Path, store: HistoryStore) -> None:
    for n in range(6):
        commit(store, n)
    with raw(tmp_path) as conn:
        conn.execute("DELETE FROM revisions WHERE revision >= 4")
    report = store.verify_chain()
    assert (report.ok, report.first_bad_revision, report.head_revision) == (False, 4, 3)
    assert "truncated" in report.reason


def test_truncate_after_recovers(tmp_path: Path, store: HistoryStore) -> None:
    for n in range(6):
        commit(store, n)
    with raw(tmp_path) as conn:
        conn.execute("UPDATE revisions SET document = x'00' WHERE revision = 4")
    report = store.verify_chain(hash_document=doc_hash)
    assert report.first_bad_revision == 4
    assert store.truncate_after(report.first_bad_revision - 1) == 2
    assert store.verify_chain(hash_document=doc_hash).ok
    again = commit(store, 4)
    assert again.revision == 4 and store.verify_chain(hash_document=doc_hash).ok
    assert store.truncate_after(-1) == 5
    assert store.head() is None and store.verify_chain().ok


def test_find_revision_forms(store: HistoryStore) -> None:
    entries = [commit(store, n) for n in range(4)]
    assert store.find_revision(2) == entries[2]
    assert store.find_revision("3") == entries[3]
    assert store.find_revision("1.0.1") == entries[1]
    prefix = entries[2].doc_hash[:6]
    assert store.find_revision(prefix) == entries[2]
    assert store.find_revision(prefix.upper()) == entries[2]
    assert store.find_revision(entries[0].doc_hash) == entries[0]
    with pytest.raises(RevisionNotFound, match="no revision matches '17'"):
        store.find_revision(17)
    with pytest.raises(RevisionNotFound):
        store.find_revision(entries[2].doc_hash[:3])  # too short to be a prefix
    with pytest.raises(RevisionNotFound):
        store.find_revision("9.9.9")


def test_a_config_version_of_different_contents_names_none(store: HistoryStore) -> None:
    # config_version is static-critical: a running cluster's revisions all carry one,
    # so once anything changed it names no single configuration
    commit(store, 0, version="2.0")
    commit(store, 1, version="2.0")  # same version label, different content
    commit(store, 2, version="2.0")
    only = commit(store, 3, version="3.0")
    with pytest.raises(AmbiguousVersion) as refused:
        store.resolve_version("2.0")
    message = refused.value.render()
    assert "names no single configuration: revisions 0 to 2" in message
    assert "static-critical" in message and "revision number" in message
    assert store.resolve_version("3.0") == VersionMatch(only)  # one revision: exact


def test_a_config_version_of_one_content_names_its_newest_revision(
        store: HistoryStore) -> None:
    base = commit(store, 0, version="2.0")
    commit(store, 1, version="3.0")
    again = commit(store, 2, body=base.document, version="2.0")  # a rollback repeats it
    match = store.resolve_version("2.0")
    assert match.entry == again
    assert match.note == ("config_version '2.0' is carried by 2 revisions of one content "
                          "(0 to 2): it names the newest, revision 2")


def test_a_revision_number_and_a_hash_prefix_stay_exact(store: HistoryStore) -> None:
    entries = [commit(store, n, version="2.0") for n in range(3)]
    assert store.resolve_version("1").entry == entries[1]
    assert store.resolve_version("1").note == ""
    match = store.resolve_version(entries[0].doc_hash[:8])
    assert (match.entry, match.note) == (entries[0], "")


def test_find_revision_prefers_newest_of_equal_content(store: HistoryStore) -> None:
    base = commit(store, 0)
    commit(store, 1)
    rollback = commit(store, 2, body=base.document, version="1.0.0")
    assert store.find_revision("1.0.0") == rollback
    assert store.find_revision(base.doc_hash[:8]) == rollback


def test_ambiguous_hash_prefix_with_constructed_hashes(store: HistoryStore) -> None:
    first_hash = "abcd" + "1" * 60
    second_hash = "abcd" + "2" * 60
    for revision, digest in enumerate((first_hash, second_hash)):
        revision_, parent = store.next_parent()
        store.append_revision(
            RevisionEntry(
                revision=revision_,
                document=b"doc%d" % revision,
                doc_hash=digest,
                parent_digest=parent,
                entry_digest=entry_digest(revision_, digest, parent),
                timestamp=0.0,
                proposer="n",
                initiator="i",
                action="update",
            )
        )
    with pytest.raises(AmbiguousVersion, match="ambiguous") as info:
        store.find_revision("abcd")
    assert len(info.value.candidates) == 2
    assert store.find_revision("abcd2").doc_hash == second_hash


def test_local_changes(store: HistoryStore) -> None:
    first = store.append_local_change(
        "ops", "update", [Change("observability.logging.level", "info", "debug")], timestamp=5.0
    )
    second = store.append_local_change("watcher", "reload", [], document=b"{}", timestamp=6.0)
    assert second == first + 1
    changes = store.list_local_changes()
    assert [c.seq for c in changes] == [second, first]
    assert changes[1].changes[0].new == "debug" and changes[0].document == b"{}"
    assert store.list_local_changes(before=second)[0].seq == first
    with pytest.raises(HistoryError, match="unknown action"):
        store.append_local_change("x", "explode", [])  # type: ignore[arg-type]


def test_audit_is_append_only(tmp_path: Path, store: HistoryStore) -> None:
    store.audit("alice", "config.update", "committed", {"revision": 3, "paths": ["a.b"]})
    store.audit("mallory", "auth", "failed", {"address": "10.0.0.9"}, timestamp=9.0)
    records = store.list_audit()
    assert [r.actor for r in records] == ["mallory", "alice"]
    assert records[1].detail == {"revision": 3, "paths": ["a.b"]}
    assert records[0].timestamp == 9.0
    with raw(tmp_path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET outcome = 'ok'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit")
    assert len(store.list_audit()) == 2
    assert not any(name.startswith(("delete", "update")) for name in dir(store) if "audit" in name)


def test_a_revision_and_its_audit_record_are_stored_together_or_not_at_all(
        store: HistoryStore) -> None:
    first = commit(store, 0)
    note = AuditNote("alice", "update", "committed", {"revision": 1, "paths": ["a.b"]})
    doc = document(1)
    entry = store.make_entry(document=doc, doc_hash=doc_hash(doc), proposer="node1",
                             initiator="alice", action="update")
    store.append_revision(entry, audit=note)
    [record] = store.list_audit()
    assert (record.actor, record.action, record.outcome) == ("alice", "update", "committed")
    assert record.detail == {"revision": 1, "paths": ["a.b"]}
    # a refused append writes neither the revision nor its audit record
    with pytest.raises(ChainViolation, match="already stored"):
        store.append_revision(first, audit=note)
    assert len(store.list_audit()) == 1 and store.head() == (1, entry.entry_digest)


def test_reputation_state_and_meta_survive_reopen(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path) as store:
        store.save_reputation({"node2": 0.9, "node3": 0.4})
        store.save_reputation({"node3": 0.2})
        store.save_consensus_state(b"\x01hard")
        store.set_meta("node_id", "node1")
        store.set_meta("node_id", "node1b")
    with HistoryStore.open(tmp_path) as store:
        assert store.load_reputation() == {"node2": 0.9, "node3": 0.2}
        assert store.load_consensus_state() == b"\x01hard"
        assert store.get_meta("node_id") == "node1b"
        assert store.get_meta("absent") is None


def test_consensus_state_commits_with_the_revision(store: HistoryStore) -> None:
    first = store.make_entry(
        document=b"a", doc_hash=doc_hash(b"a"), proposer="n", initiator="i", action="update"
    )
    store.append_revision(first, consensus_state=b"state-0")
    assert store.load_consensus_state() == b"state-0"
    refused = dataclasses.replace(first, revision=5)
    with pytest.raises(ChainViolation):
        store.append_revision(refused, consensus_state=b"state-bad")
    assert store.load_consensus_state() == b"state-0"  # rolled back with the refused append


def test_custom_digest_and_genesis(tmp_path: Path) -> None:
    def digest(entry: RevisionEntry) -> str:
        return doc_hash(f"{entry.revision}|{entry.parent_digest}|{entry.request_id}".encode())

    with HistoryStore.open(tmp_path, digest_fn=digest, genesis_parent="") as store:
        entry = store.make_entry(
            document=b"a",
            doc_hash=doc_hash(b"a"),
            proposer="n",
            initiator="i",
            action="update",
            request_id="req-1",
        )
        assert entry.parent_digest == "" and entry.entry_digest == digest(entry)
        store.append_revision(entry)
        assert store.get_revision(0).request_id == "req-1"  # type: ignore[union-attr]
        assert store.verify_chain().ok


def test_second_process_is_refused(tmp_path: Path, store: HistoryStore) -> None:
    with pytest.raises(HistoryInUse, match="another process"):
        HistoryStore.open(tmp_path)


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path)
    store.close()
    store.close()
    with pytest.raises(HistoryError, match="closed"):
        store.latest()
    HistoryStore.open(tmp_path).close()  # the process lock was released


def test_truncated_database_file_is_a_clear_error(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path) as store:
        for n in range(200):
            commit(store, n, body=document(n) * 20)
    path = tmp_path / "config" / "history.db"
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(HistoryCorrupt) as info:
        HistoryStore.open(tmp_path)
    assert "history.db" in info.value.message and "damaged" in info.value.message
    assert "peers" in info.value.hint
    assert info.value.exit_code == 2


def test_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "history.db").write_text("not a database at all")
    with pytest.raises(HistoryCorrupt, match="not an SQLite database"):
        HistoryStore.open(tmp_path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    HistoryStore.open(tmp_path).close()
    with raw(tmp_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore.open(tmp_path)


def test_concurrent_threads_share_one_store(store: HistoryStore) -> None:
    commit(store, 0)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(50):
                store.audit(name, "tick", "ok", {"i": i})
                store.list_revisions(limit=5)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_audit(limit=1000)) == 200
    assert store.integrity_check() == ["ok"]


def test_digits_name_a_revision_number_only(store: HistoryStore) -> None:
    """All-digit text is a revision number and nothing else: a mistyped rollback
    target that happens to be a hash prefix must not pick some other revision."""
    digest = "1234" + "c" * 60
    revision, parent = store.next_parent()
    stored = RevisionEntry(
        revision=revision, document=b"doc", doc_hash=digest, parent_digest=parent,
        entry_digest=entry_digest(revision, digest, parent), timestamp=0.0,
        proposer="n", initiator="i", action="update",
    )
    store.append_revision(stored)
    assert store.find_revision(digest[:8].upper()) == stored  # a hash prefix, not all digits
    assert store.find_revision(" 0 ") == stored
    for spec in ("1234", "17", str(1 << 63), "9" * 30, "7" * 5000, "\u0661"):
        with pytest.raises(RevisionNotFound):
            store.find_revision(spec)
    for number in (-1, 1 << 63, 1 << 80):
        with pytest.raises(RevisionNotFound):
            store.find_revision(number)
