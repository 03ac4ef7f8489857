"""The administration database: one SQLite file (WAL mode), its schema, and a locked connection.

The audit table is append-only at the database level: triggers abort any UPDATE or DELETE, so no
code path — route, CLI or bug — can rewrite what an administrator did.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.index.registry import connect_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    path TEXT NOT NULL,
    doc_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at REAL NOT NULL,
    published_by TEXT NOT NULL DEFAULT '',
    published_at REAL,
    preview TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS conversations (
    answer_id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    standalone TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    refused INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    cited TEXT NOT NULL DEFAULT '[]',
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_at ON conversations(at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL REFERENCES conversations(answer_id) ON DELETE CASCADE,
    at REAL NOT NULL,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


class AdminStore:
    """One connection shared by the threads of a process, used under a lock (writes are small)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = connect_wal(path, check_same_thread=False)
        self._con.execute("PRAGMA foreign_keys=ON")
        self._con.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE … COMMIT`` (rolled back on error)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        """One statement in its own transaction; returns the rows changed."""
        with self.transaction() as con:
            return con.execute(sql, params).rowcount

    def close(self) -> None:
        self._con.close()


def now() -> float:
    return time.time()
