"""The history database's tables and their migrations.

`PRAGMA user_version` holds the schema version. `MIGRATIONS[i]` takes a
database from version i to i + 1; a new release appends a step and never
edits an old one. A database newer than this code is refused rather than
guessed at.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

_V1 = (
    """
    CREATE TABLE revisions (
        revision       INTEGER PRIMARY KEY CHECK (revision >= 0),
        document       BLOB    NOT NULL,
        doc_hash       TEXT    NOT NULL,
        parent_digest  TEXT    NOT NULL,
        entry_digest   TEXT    NOT NULL UNIQUE,
        timestamp      REAL    NOT NULL,
        proposer       TEXT    NOT NULL,
        initiator      TEXT    NOT NULL,
        action         TEXT    NOT NULL
                       CHECK (action IN ('update', 'patch', 'rollback', 'reload')),
        changes        TEXT    NOT NULL DEFAULT '[]',
        certificate    BLOB,
        config_version TEXT,
        request_id     TEXT    NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX revisions_doc_hash ON revisions (doc_hash)",
    "CREATE INDEX revisions_config_version ON revisions (config_version)",
    """
    CREATE TABLE local_changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp REAL    NOT NULL,
        initiator TEXT    NOT NULL,
        action    TEXT    NOT NULL
                  CHECK (action IN ('update', 'patch', 'rollback', 'reload')),
        changes   TEXT    NOT NULL DEFAULT '[]',
        document  BLOB
    )
    """,
    """
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp REAL    NOT NULL,
        actor     TEXT    NOT NULL,
        action    TEXT    NOT NULL,
        outcome   TEXT    NOT NULL,
        detail    TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    """
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
    """,
    """
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
    """,
    """
    CREATE TABLE reputation (
        peer    TEXT PRIMARY KEY,
        score   REAL NOT NULL,
        updated REAL NOT NULL
    )
    """,
    """
    CREATE TABLE consensus_state (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        state   BLOB NOT NULL,
        updated REAL NOT NULL
    )
    """,
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found.

    Raises ValueError when the database was written by a newer schema.
    """
    assert len(MIGRATIONS) == SCHEMA_VERSION
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise ValueError(f"schema version {found} is newer than this program's {SCHEMA_VERSION}")
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found
