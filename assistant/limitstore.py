"""Where the request limits keep their counts: one SQLite database per serving host.

The rate limit's token buckets and the sign-in back-off must hold across every process that serves
on this host (``assistant serve --workers N``, or several ``assistant serve`` on one machine): with
counts in each process's memory a client would get N times the limit. A SQLite file in WAL mode
under the *state directory* is shared by those processes without a server to run: each update is
one statement (atomic, no lock held between statements), written without fsync — the counts are
worth nothing after a power cut. Without a state directory (one app inside a test or a notebook)
the same tables live in an in-memory database of the process. Redis-backed stores (the ``limits``
package) would share across hosts, at the price of a server this office does not otherwise need.

The tables stay small: a row that has fully recovered (a bucket refilled, a back-off expired) is
equivalent to no row, and such rows are deleted now and then; when more than ``max_keys`` rows
are still busy, the longest idle are dropped.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
from hashlib import sha256
from pathlib import Path

log = logging.getLogger(__name__)

#: The file inside the state directory.
LIMITS_FILE = "limits.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL,
                                    allowed INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, last REAL NOT NULL)
    WITHOUT ROWID;
"""


class LimitStore:
    """One connection to the limits database (``path``, or in memory when ``None``).

    Safe to share between threads: statements run one at a time under a lock (each is tens of
    microseconds). Other processes wait for a write lock at most ``busy_ms``; callers treat a
    :class:`sqlite3.Error` as "store unavailable" and fall back to what this process knows.
    """

    def __init__(self, path: Path | None = None, busy_ms: int = 250):
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None,
                                   check_same_thread=False, timeout=busy_ms / 1000)
        self._lock = threading.Lock()
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=OFF")
            self._db.executescript(_SCHEMA)

    @property
    def shared(self) -> bool:
        """Whether other processes see these counts (a file, not memory)."""
        return self.path is not None

    def execute(self, sql: str, params: dict | tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def limit_store(state_dir: Path | None) -> LimitStore:
    """The host's shared store under ``state_dir``, or a private in-memory one without it."""
    return LimitStore(None if state_dir is None else state_dir / LIMITS_FILE)


def default_state_dir(data_dir: Path) -> Path:
    """``DATA_DIR/state`` when it can be written, else a folder of this user's in the temp folder named
    after the data directory (a read-only data directory, e.g. mounted from a deploy image): every
    process serving that data directory on this host finds the same one."""
    preferred = data_dir / "state"
    if _writable(preferred):
        return preferred
    digest = sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"assistant-state-{os.getuid()}-{digest}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    info = fallback.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:  # made by someone else in a shared /tmp
        raise OSError(f"状态目录不安全 / unsafe state directory (not ours, or writable by others): {fallback}; "
                      "set ASSISTANT_STATE_DIR")
    return fallback


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False
