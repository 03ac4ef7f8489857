"""Embedding cache: vectors by content hash in one SQLite file, so unchanged text is never embedded twice."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np

from assistant.index.registry import connect_wal


class EmbeddingCache:
    """Vectors by content hash in one SQLite file, shared safely by several processes (WAL).

    The key is ``sha256(model_id + "\\0" + kind + "\\0" + text)``, so a different model or prefix
    (both part of ``model_id``) never returns a stale vector, and identical text is embedded once.

    >>> cache = EmbeddingCache(Path("/tmp/e.sqlite3"))                       # doctest: +SKIP
    >>> cache.put_many("m", "passage", ["a"], [np.ones(3, np.float32)])      # doctest: +SKIP
    >>> cache.get_many("m", "passage", ["a", "b"])                           # doctest: +SKIP
    [array([1., 1., 1.], dtype=float32), None]
    """

    _BATCH = 500  # keys per SELECT, under SQLite's variable limit

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = connect_wal(self.path, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, model_id TEXT NOT NULL, "
            "kind TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, created REAL NOT NULL)"
        )

    @staticmethod
    def key(model_id: str, kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{model_id}\0{kind}\0{text}".encode()).digest()

    def get_many(self, model_id: str, kind: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [self.key(model_id, kind, t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), self._BATCH):
                part = keys[start:start + self._BATCH]
                rows = self._conn.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(part))})", part)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return [found.get(k) for k in keys]

    def put_many(self, model_id: str, kind: str, texts: Sequence[str],
                 vectors: Sequence[np.ndarray] | np.ndarray) -> None:
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        now = time.time()
        rows = [(self.key(model_id, kind, t), model_id, kind, int(np.asarray(v).size),
                 np.asarray(v, dtype="<f4").tobytes(), now) for t, v in zip(texts, vectors)]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def count(self, model_id: str | None = None) -> int:
        with self._lock:
            if model_id is None:
                return self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return self._conn.execute(
                "SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
