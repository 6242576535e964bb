"""The node's durable history: `{data_dir}/config/history.db` (SQLite, WAL, synchronous=FULL).

It holds the committed cluster revisions as a hash chain (see history.chain)
with their commit certificates, the node's dynamic-local changes, the
append-only audit log, peer reputation, the consensus hard state and a few
node facts (meta). Every write is one transaction, so a crash leaves either
all of it or none of it.

Threads: one connection is shared behind a lock; every method takes the lock,
so the store may be used from several threads (calls are serialized).
Processes: an exclusive advisory lock on `history.lock` keeps a second
process from opening the same store.

Memory: documents stay canonical bytes; nothing is cached but the head.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from butterfly_config.history.chain import GENESIS_PARENT, entry_digest
from butterfly_config.history.errors import (
    AmbiguousConfigVersion,
    AmbiguousVersion,
    ChainViolation,
    HistoryCorrupt,
    HistoryError,
    HistoryInUse,
    RevisionNotFound,
)
from butterfly_config.history.models import (
    ACTIONS,
    Action,
    AuditNote,
    AuditRecord,
    ChainReport,
    Change,
    JsonValue,
    LocalChange,
    RevisionEntry,
    VersionMatch,
)
from butterfly_config.history.schema import migrate

DB_NAME = "history.db"
LOCK_NAME = "history.lock"
CONFIG_SUBDIR = "config"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BATCH = 64
_MIN_PREFIX = 4
_MAX_SQLITE_INT = (1 << 63) - 1
"""SQLite integers are 64-bit: a larger number given as a revision matches none."""

DigestFn = Callable[[RevisionEntry], str]
"""Recomputes an entry's chain digest; the default is history.chain.entry_digest."""

_REVISION_COLUMNS = (
    "revision, document, doc_hash, parent_digest, entry_digest, timestamp, proposer, "
    "initiator, action, changes, certificate, config_version, request_id"
)


def default_digest(entry: RevisionEntry) -> str:
    """history.chain.entry_digest over the entry's (revision, doc_hash, parent_digest)."""
    return entry_digest(entry.revision, entry.doc_hash, entry.parent_digest)


def config_dir(data_dir: str | os.PathLike[str]) -> Path:
    """`{data_dir}/config`: where the history database and current.toml live."""
    return Path(data_dir) / CONFIG_SUBDIR


def _changes_json(changes: Sequence[Change]) -> str:
    # default=str: an odd value in a change record must not make a commit fail
    return json.dumps(
        [{"path": c.path, "old": c.old, "new": c.new} for c in changes],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def _changes_from_json(text: str) -> tuple[Change, ...]:
    return tuple(Change(d["path"], d.get("old"), d.get("new")) for d in json.loads(text))


def _entry_from_row(row: Sequence[Any]) -> RevisionEntry:
    return RevisionEntry(
        revision=row[0],
        document=bytes(row[1]),
        doc_hash=row[2],
        parent_digest=row[3],
        entry_digest=row[4],
        timestamp=row[5],
        proposer=row[6],
        initiator=row[7],
        action=cast(Action, row[8]),
        changes=_changes_from_json(row[9]),
        certificate=None if row[10] is None else bytes(row[10]),
        config_version=row[11],
        request_id=row[12],
    )


def _corrupt(path: Path, exc: BaseException | str) -> HistoryCorrupt:
    return HistoryCorrupt(
        f"{path}: the history database is damaged ({exc})",
        hint="stop the node, move the file aside (keep it for inspection) and restart: "
        "the node rebuilds its history from its peers",
    )


class HistoryStore:
    """Durable history of one node. Open with `HistoryStore.open(data_dir)`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        lock_file: IO[bytes],
        *,
        digest_fn: DigestFn = default_digest,
        genesis_parent: str = GENESIS_PARENT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self.path = path
        self._lock_file = lock_file
        self._lock = threading.RLock()
        self._digest = digest_fn
        self._genesis_parent = genesis_parent
        self._clock = clock
        self._closed = False

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str],
        *,
        digest_fn: DigestFn = default_digest,
        genesis_parent: str = GENESIS_PARENT,
        clock: Callable[[], float] = time.time,
    ) -> HistoryStore:
        """Open (creating if needed) `{data_dir}/config/history.db`.

        The directory is made 0700 and the database 0600. The file is checked
        (`PRAGMA quick_check`) and migrated to the current schema; a damaged
        or foreign file raises `HistoryCorrupt`, a store held by another
        process `HistoryInUse`. `digest_fn` / `genesis_parent` let the node use
        the consensus layer's chain definition instead of history.chain's.
        """
        directory = config_dir(data_dir)
        path = directory / DB_NAME
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
            lock_file = open(directory / LOCK_NAME, "ab")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise HistoryError(
                f"{directory}: cannot create the history directory: {exc.strerror or exc}",
                hint="check node.data_dir and its permissions",
            ) from exc
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock_file.close()
            raise HistoryInUse(
                f"{path}: another process has this history open",
                hint="is another node running with the same node.data_dir?",
            ) from exc
        try:
            conn = cls._connect(path)
        except BaseException:
            lock_file.close()
            raise
        return cls(
            conn, path, lock_file, digest_fn=digest_fn, genesis_parent=genesis_parent, clock=clock
        )

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            with open(path, "rb") as existing:
                magic = existing.read(len(_SQLITE_MAGIC))
            if magic and magic != _SQLITE_MAGIC:
                raise _corrupt(path, "not an SQLite database")
        except FileNotFoundError:
            pass
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.OperationalError as exc:
            raise HistoryError(
                f"{path}: cannot open the history database ({exc})",
                hint="check that node.data_dir is writable by this user",
            ) from exc
        except sqlite3.Error as exc:
            raise _corrupt(path, exc) from exc
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise _corrupt(path, f"cannot enable WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise _corrupt(path, "; ".join(problems[:3]))
            migrate(conn)
            os.chmod(path, 0o600)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _corrupt(path, exc) from exc
        except ValueError as exc:
            conn.close()
            raise HistoryError(
                f"{path}: {exc}", hint="run a butterfly-config version at least as new"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close the database (checkpointing the WAL) and release the process lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            finally:
                self._lock_file.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise HistoryError(f"{self.path}: the history store is closed")
            try:
                yield self._conn
            except sqlite3.IntegrityError as exc:
                raise HistoryError(f"{self.path}: refused by the database: {exc}") from exc
            except sqlite3.OperationalError as exc:
                # I/O trouble (disk full, read-only, locked), not a damaged file
                raise HistoryError(
                    f"{self.path}: the history database cannot be used right now ({exc})",
                    hint="check free disk space and permissions of node.data_dir",
                ) from exc
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed whole or rolled back whole."""
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------- revisions

    def head(self) -> tuple[int, str] | None:
        """(revision, entry_digest) of the newest revision, or None when empty."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT revision, entry_digest FROM revisions ORDER BY revision DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def next_parent(self) -> tuple[int, str]:
        """(revision, parent_digest) the next appended entry must carry."""
        current = self.head()
        return (0, self._genesis_parent) if current is None else (current[0] + 1, current[1])

    def make_entry(
        self,
        *,
        document: bytes,
        doc_hash: str,
        proposer: str,
        initiator: str,
        action: Action,
        changes: Sequence[Change] = (),
        certificate: bytes | None = None,
        config_version: str | None = None,
        request_id: str = "",
        timestamp: float | None = None,
    ) -> RevisionEntry:
        """The entry that would extend the chain now (not yet appended)."""
        revision, parent = self.next_parent()
        draft = RevisionEntry(
            revision=revision,
            document=document,
            doc_hash=doc_hash,
            parent_digest=parent,
            entry_digest="",
            timestamp=self._clock() if timestamp is None else timestamp,
            proposer=proposer,
            initiator=initiator,
            action=action,
            changes=tuple(changes),
            certificate=certificate,
            config_version=config_version,
            request_id=request_id,
        )
        return _replace_digest(draft, self._digest(draft))

    def append_revision(
        self,
        entry: RevisionEntry,
        *,
        consensus_state: bytes | None = None,
        audit: AuditNote | None = None,
    ) -> None:
        """Persist the next revision (and optionally the consensus state and the audit record
        of the change) in one transaction: one fsync where there would be two.

        Refused with `ChainViolation` when the revision is not exactly the next
        one, its parent digest is not the head's entry digest, or its
        entry_digest does not match its content.
        """
        if entry.action not in ACTIONS:
            raise ChainViolation(f"revision {entry.revision}: unknown action {entry.action!r}")
        expected = self._digest(entry)
        if expected != entry.entry_digest:
            raise ChainViolation(
                f"revision {entry.revision}: entry digest {entry.entry_digest[:12]!r} "
                f"does not match its content (expected {expected[:12]!r})"
            )
        with self._write() as conn:
            row = conn.execute(
                "SELECT revision, entry_digest FROM revisions ORDER BY revision DESC LIMIT 1"
            ).fetchone()
            next_revision, parent = (
                (0, self._genesis_parent) if row is None else (int(row[0]) + 1, str(row[1]))
            )
            if entry.revision != next_revision:
                kind = "a gap" if entry.revision > next_revision else "already stored"
                raise ChainViolation(
                    f"cannot append revision {entry.revision}: the next revision is "
                    f"{next_revision} ({kind})",
                    hint="fetch the missing revisions first (catch-up)",
                )
            if entry.parent_digest != parent:
                raise ChainViolation(
                    f"cannot append revision {entry.revision}: its parent digest "
                    f"{entry.parent_digest[:12]!r} is not revision {next_revision - 1}'s "
                    f"entry digest {parent[:12]!r}",
                    hint="the entry belongs to a different history",
                )
            conn.execute(
                f"INSERT INTO revisions ({_REVISION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.revision,
                    entry.document,
                    entry.doc_hash,
                    entry.parent_digest,
                    entry.entry_digest,
                    entry.timestamp,
                    entry.proposer,
                    entry.initiator,
                    entry.action,
                    _changes_json(entry.changes),
                    entry.certificate,
                    entry.config_version,
                    entry.request_id,
                ),
            )
            self._set_head(conn, entry.revision, entry.entry_digest)
            if consensus_state is not None:
                self._put_consensus_state(conn, consensus_state)
            if audit is not None:
                self._insert_audit(conn, audit, None)

    def get_revision(self, revision: int) -> RevisionEntry | None:
        if not 0 <= revision <= _MAX_SQLITE_INT:
            return None
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE revision = ?", (revision,)
            ).fetchone()
        return None if row is None else _entry_from_row(row)

    def latest(self) -> RevisionEntry | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions ORDER BY revision DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _entry_from_row(row)

    def list_revisions(self, limit: int = 50, before: int | None = None) -> list[RevisionEntry]:
        """Up to `limit` revisions, newest first, all below `before` when given."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE revision < ? "
                "ORDER BY revision DESC LIMIT ?",
                (_upper(before), max(0, limit)),
            ).fetchall()
        return [_entry_from_row(r) for r in rows]

    def iter_revisions(self, start: int = 0) -> Iterator[RevisionEntry]:
        """Revisions from `start` upwards, fetched in small batches (catch-up, verification)."""
        cursor = start
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE revision >= ? "
                    "ORDER BY revision LIMIT ?",
                    (cursor, _BATCH),
                ).fetchall()
            for row in rows:
                yield _entry_from_row(row)
            if len(rows) < _BATCH:
                return
            cursor = int(rows[-1][0]) + 1

    def find_revision(self, spec: int | str) -> RevisionEntry:
        """The revision `spec` names (see `resolve_version`)."""
        return self.resolve_version(spec).entry

    def resolve_version(self, spec: int | str) -> VersionMatch:
        """A revision by number, by cluster_hash prefix (>= 4 hex digits) or by config_version.

        Text of digits only is a revision number; other text is tried as an exact
        `metadata.config_version`, then as a hash prefix. config_version is
        static-critical, so every revision of a running cluster usually carries the
        same one: one carried by revisions of different contents is refused as
        naming no single configuration (`_by_config_version`). A number is exact; a hash prefix
        matching several configurations is ambiguous (the candidates are listed),
        while several revisions with the same content (a rollback repeats its
        target) count as one match and the newest is returned.
        """
        text = spec.strip() if isinstance(spec, str) else str(spec)
        # All digits: a revision number and nothing else, so a mistyped number never
        # matches a hash prefix.
        if isinstance(spec, int) or is_revision_number(text):
            number = spec if isinstance(spec, int) else revision_number(text)
            found = None if number is None else self.get_revision(number)
            if found is None:
                raise self._not_found(text)
            return VersionMatch(found)
        by_version = self._by_config_version(text)
        if by_version is not None:
            return by_version
        prefix = text.lower()
        matches: list[tuple[str, int]] = []
        if may_be_hash_prefix(prefix):
            with self._read() as conn:
                matches = conn.execute(
                    "SELECT doc_hash, MAX(revision) FROM revisions WHERE doc_hash GLOB ? "
                    "GROUP BY doc_hash ORDER BY 2 DESC",
                    (prefix + "*",),
                ).fetchall()
        if len(matches) > 1:
            raise AmbiguousVersion(
                text, [f"revision {rev} (hash {digest[:12]})" for digest, rev in matches]
            )
        if not matches:
            raise self._not_found(text)
        return VersionMatch(self._existing(int(matches[0][1]), text))

    def _by_config_version(self, text: str) -> VersionMatch | None:
        """The revision config_version `text` names, or None when no revision carries it.

        Several revisions of one content (a rollback repeats its target) name the
        newest of them; revisions of different contents name none (the option is
        static, so in a running cluster that is every revision once anything changed).
        """
        with self._read() as conn:
            newest, count, oldest, contents = conn.execute(
                "SELECT MAX(revision), COUNT(*), MIN(revision), COUNT(DISTINCT doc_hash) "
                "FROM revisions WHERE config_version = ?",
                (text,),
            ).fetchone()
        if not count:
            return None
        if contents > 1:
            raise AmbiguousConfigVersion(text, int(oldest), int(newest))
        entry = self._existing(int(newest), text)
        if count == 1:
            return VersionMatch(entry)
        note = (f"config_version {text!r} is carried by {count} revisions of one content "
                f"({oldest} to {newest}): it names the newest, revision {newest}")
        return VersionMatch(entry, note)

    def _existing(self, revision: int, spec: str) -> RevisionEntry:
        """Revision `revision`, just found for `spec`."""
        found = self.get_revision(revision)
        if found is None:  # removed between the two reads by another thread
            raise self._not_found(spec)
        return found

    def _not_found(self, spec: str) -> RevisionNotFound:
        return RevisionNotFound(
            f"no revision matches {spec!r}",
            hint="give a revision number, a cluster_hash prefix of at least 4 hex digits "
            "or a metadata.config_version; `butterfly config history` lists them",
        )

    def truncate_after(self, revision: int) -> int:
        """Delete every revision above `revision` (recovery); returns how many were removed."""
        with self._write() as conn:
            removed = conn.execute("DELETE FROM revisions WHERE revision > ?", (revision,)).rowcount
            row = conn.execute(
                "SELECT revision, entry_digest FROM revisions ORDER BY revision DESC LIMIT 1"
            ).fetchone()
            if row is None:
                conn.execute("DELETE FROM meta WHERE key IN ('head_revision', 'head_digest')")
            else:
                self._set_head(conn, int(row[0]), str(row[1]))
        return int(removed)

    @staticmethod
    def _set_head(conn: sqlite3.Connection, revision: int, digest: str) -> None:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (("head_revision", str(revision)), ("head_digest", digest)),
        )

    # ---------------------------------------------------------- verification

    def verify_chain(
        self,
        verify_certificate: Callable[[RevisionEntry], bool] | None = None,
        hash_document: Callable[[bytes], str] | None = None,
    ) -> ChainReport:
        """Walk every revision and report the first one that breaks the chain.

        Checks, in order, for each revision: no gap, parent digest = previous
        entry digest, entry digest = digest of its content, `doc_hash` =
        `hash_document(document)` (when given), `verify_certificate(entry)`
        (when given); finally that the last row is the head recorded at the
        last append (rows removed from the end are a truncation).
        """
        expected_revision = 0
        parent = self._genesis_parent
        checked = 0
        for entry in self.iter_revisions(0):
            problem = self._check_entry(entry, expected_revision, parent, hash_document)
            if problem is None and verify_certificate is not None:
                problem = _certificate_problem(verify_certificate, entry)
            if problem is not None:
                bad = min(entry.revision, expected_revision)
                head = expected_revision - 1 if expected_revision else None
                return ChainReport(False, checked, head, bad, problem)
            checked += 1
            expected_revision = entry.revision + 1
            parent = entry.entry_digest
        head = expected_revision - 1 if checked else None
        recorded = self.get_meta("head_revision")
        if recorded is not None and int(recorded) != (-1 if head is None else head):
            return ChainReport(
                False,
                checked,
                head,
                0 if head is None else head + 1,
                f"the store was truncated or edited: revision {recorded} was the last "
                f"committed, but the last stored revision is {head}",
            )
        return ChainReport(True, checked, head)

    def _check_entry(
        self,
        entry: RevisionEntry,
        expected_revision: int,
        parent: str,
        hash_document: Callable[[bytes], str] | None,
    ) -> str | None:
        if entry.revision != expected_revision:
            return f"revision {expected_revision} is missing (a gap before {entry.revision})"
        if entry.parent_digest != parent:
            return "its parent digest is not the previous revision's entry digest"
        try:
            recomputed = self._digest(entry)
        except ValueError as exc:
            return f"its stored fields are malformed ({exc})"
        if recomputed != entry.entry_digest:
            return "its entry digest does not match its revision, doc_hash and parent"
        if hash_document is not None and hash_document(entry.document) != entry.doc_hash:
            return "its document does not hash to its recorded cluster_hash"
        return None

    def integrity_check(self) -> list[str]:
        """SQLite's full `PRAGMA integrity_check`: ["ok"] for a sound file."""
        with self._read() as conn:
            return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]

    # ------------------------------------------------------ local changes

    def append_local_change(
        self,
        initiator: str,
        action: Action,
        changes: Sequence[Change],
        *,
        document: bytes | None = None,
        timestamp: float | None = None,
    ) -> int:
        """Record a dynamic-local change; returns its sequence number in this node's history."""
        if action not in ACTIONS:
            raise HistoryError(f"unknown action {action!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO local_changes (timestamp, initiator, action, changes, document) "
                "VALUES (?, ?, ?, ?, ?)",
                (self._now(timestamp), initiator, action, _changes_json(changes), document),
            )
        return int(cursor.lastrowid or 0)

    def list_local_changes(self, limit: int = 50, before: int | None = None) -> list[LocalChange]:
        """Up to `limit` local changes, newest first, all with seq below `before` when given."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, timestamp, initiator, action, changes, document FROM local_changes "
                "WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                (_upper(before), max(0, limit)),
            ).fetchall()
        return [
            LocalChange(
                r[0],
                r[1],
                r[2],
                cast(Action, r[3]),
                _changes_from_json(r[4]),
                None if r[5] is None else bytes(r[5]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------- audit

    def audit(
        self,
        actor: str,
        action: str,
        outcome: str,
        detail: Mapping[str, JsonValue] | None = None,
        *,
        timestamp: float | None = None,
    ) -> int:
        """Append one audit record (the log is append-only: triggers refuse edits)."""
        with self._write() as conn:
            return self._insert_audit(
                conn, AuditNote(actor, action, outcome, dict(detail or {})), timestamp)

    def _insert_audit(
        self, conn: sqlite3.Connection, note: AuditNote, timestamp: float | None
    ) -> int:
        text = json.dumps(note.detail, sort_keys=True, default=str, ensure_ascii=False)
        cursor = conn.execute(
            "INSERT INTO audit (timestamp, actor, action, outcome, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._now(timestamp), note.actor, note.action, note.outcome, text),
        )
        return int(cursor.lastrowid or 0)

    def list_audit(self, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        """Up to `limit` audit records, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, timestamp, actor, action, outcome, detail FROM audit "
                "WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                (_upper(before), max(0, limit)),
            ).fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    # ------------------------------------------------ reputation, state, meta

    def save_reputation(
        self, scores: Mapping[str, float], *, timestamp: float | None = None
    ) -> None:
        """Upsert the given peers' scores in one transaction (others are kept)."""
        now = self._now(timestamp)
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO reputation (peer, score, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (peer) DO UPDATE SET score = excluded.score, "
                "updated = excluded.updated",
                [(peer, float(score), now) for peer, score in scores.items()],
            )

    def load_reputation(self) -> dict[str, float]:
        with self._read() as conn:
            rows = conn.execute("SELECT peer, score FROM reputation ORDER BY peer").fetchall()
        return {str(peer): float(score) for peer, score in rows}

    def save_consensus_state(self, state: bytes) -> None:
        """Replace the consensus hard state (opaque bytes) atomically."""
        with self._write() as conn:
            self._put_consensus_state(conn, state)

    def _put_consensus_state(self, conn: sqlite3.Connection, state: bytes) -> None:
        conn.execute(
            "INSERT INTO consensus_state (id, state, updated) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
            (bytes(state), self._clock()),
        )

    def load_consensus_state(self) -> bytes | None:
        with self._read() as conn:
            row = conn.execute("SELECT state FROM consensus_state WHERE id = 1").fetchone()
        return None if row is None else bytes(row[0])

    def get_meta(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _now(self, timestamp: float | None) -> float:
        return self._clock() if timestamp is None else timestamp


def is_revision_number(text: str) -> bool:
    """Text that can only mean a revision number: ASCII digits ("¹".isdigit() is true,
    yet int() refuses it)."""
    return text.isascii() and text.isdigit()


def revision_number(text: str) -> int | None:
    """`text` as a revision number; None when it is not one or beyond 64 bits (beyond
    19 digits no revision can match, and int() refuses more than 4,300)."""
    text = text.strip()
    if not is_revision_number(text) or len(text) > 19:
        return None
    return int(text)


def may_be_hash_prefix(text: str) -> bool:
    """Whether `text` has the form of a cluster_hash prefix (`resolve_version`), so it may
    name a revision this store does not hold yet."""
    prefix = text.strip().lower()
    return len(prefix) >= _MIN_PREFIX and _is_hex(prefix) and not is_revision_number(prefix)


def _upper(before: int | None) -> int:
    return (1 << 62) if before is None else before


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _replace_digest(entry: RevisionEntry, digest: str) -> RevisionEntry:
    return dataclasses.replace(entry, entry_digest=digest)


def _certificate_problem(
    verify_certificate: Callable[[RevisionEntry], bool], entry: RevisionEntry
) -> str | None:
    try:
        valid = verify_certificate(entry)
    except Exception as exc:  # a malformed certificate is a finding, not a crash
        return f"its commit certificate cannot be checked ({exc.__class__.__name__}: {exc})"
    return None if valid else "its commit certificate does not verify"
