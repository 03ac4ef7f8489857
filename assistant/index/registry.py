"""The chunk registry: the source of truth for what is indexed.

A SQLite file in the data directory holds every document (with its content hash) and every chunk
(display text, indexed text, keyword tokens, metadata). The vector store and the keyword index are
both derived from it: a chunk is *in the index* when its row is here. Each ingest commits one
document at a time in a single transaction, so a crash leaves the registry consistent, and the
vector store is reconciled against it on the next ingest. ``generation`` increases with every
commit so that a serving process can notice and reload.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.index.document_query import DocumentQuery, by_date
from assistant.schema import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    suggestion_no TEXT NOT NULL DEFAULT '',
    session TEXT NOT NULL DEFAULT '',
    proposer TEXT NOT NULL DEFAULT '',
    units TEXT NOT NULL DEFAULT '',
    n_chunks INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    header TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    index_text TEXT NOT NULL,
    tokens TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ord);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added after the first release, each with the statement that adds it to an older file.
# An older document's row reads as "nothing known" until the next ingest re-parses it (a parser
# change changes every content hash, so that ingest does).
_MIGRATIONS = {
    ("documents", "header"): "ALTER TABLE documents ADD COLUMN header TEXT NOT NULL DEFAULT '{}'",
}
_DOCUMENT_COLUMNS = ("doc_id, source, content_hash, title, suggestion_no, session, proposer, units, "
                     "n_chunks, metadata, header")


@dataclass
class DocumentRecord:
    doc_id: str
    source: str
    content_hash: str
    title: str
    suggestion_no: str
    session: str
    proposer: str
    units: str
    n_chunks: int
    metadata: dict
    #: What the header and closing say beyond the columns above (``HeaderFacts.as_dict()``:
    #: issuer, kind, 办理结果, 文号, dates as YYYY-MM-DD, contact, 抄送 …), stored as JSON so that
    #: SQL can still filter on it (``json_extract(header, '$.issuer')``).
    header: dict = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.header.get("issuer") or ""

    @property
    def doc_kind(self) -> str:
        return self.header.get("kind") or ""

    @property
    def date(self) -> str:
        """The reply's date, YYYY-MM-DD: when it was signed, else when it was published ("" if neither)."""
        return self.header.get("date") or self.header.get("published") or ""

    def as_dict(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "suggestion_no": self.suggestion_no,
            "session": self.session,
            "proposer": self.proposer,
            "units": self.units,
            "chunks": self.n_chunks,
            "source": self.source,
            "issuer": self.issuer,
            "doc_kind": self.doc_kind,
            "date": self.date,
            "header": dict(self.header),
        }

    @classmethod
    def from_row(cls, row: tuple) -> DocumentRecord:
        """A record from a ``SELECT {_DOCUMENT_COLUMNS}`` row."""
        return cls(*row[:9], json.loads(row[9]), json.loads(row[10]))


def connect_wal(path: Path, *, check_same_thread: bool = True, timeout: float = 30.0) -> sqlite3.Connection:
    """An autocommit connection in WAL mode that waits up to ``timeout`` s for other processes' locks.

    SQLite answers "database is locked" at once, without waiting on the busy timeout, when two
    connections switch a fresh file to WAL together; the loser tries again until ``timeout``.
    """
    con = sqlite3.connect(path, timeout=timeout, check_same_thread=check_same_thread, isolation_level=None)
    deadline, delay = time.monotonic() + timeout, 0.01
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                con.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    con.execute("PRAGMA synchronous=NORMAL")
    return con


def ids_digest(chunk_ids: Iterable[str]) -> str:
    """A digest of a set of chunk ids (given in any order: they are sorted by code point, which is
    SQLite's order of their UTF-8 bytes)."""
    h = hashlib.sha256()
    for chunk_id in sorted(chunk_ids):
        h.update(chunk_id.encode())
        h.update(b"\n")
    return h.hexdigest()


class Registry:
    """SQLite-backed registry of documents and chunks (safe for several processes: WAL mode)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as con:
            con.executescript(_SCHEMA)
            self._migrate(con)

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        for (table, column), statement in _MIGRATIONS.items():
            if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                try:
                    con.execute(statement)
                except sqlite3.OperationalError as error:  # another process added it first
                    if "duplicate column" not in str(error):
                        raise

    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = connect_wal(self.path)
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    # ---- reads -------------------------------------------------------------------------------
    def generation(self) -> int:
        row = self._connect().execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def fingerprint(self) -> tuple[int, str]:
        """(generation, :func:`ids_digest` of every chunk id), read together in one transaction: what
        a file derived from the registry is keyed by. The digest tells a registry built afresh to the
        same generation from the one it replaced. The ids are read in their own order, from the
        primary key's index alone (~2 MB at 46k chunks, not the chunks' rows: ~200 MB)."""
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("BEGIN")
            row = con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            digest = ids_digest(r[0] for r in con.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id"))
            con.execute("COMMIT")
        finally:
            con.close()
        return (int(row[0]) if row else 0), digest

    def get_meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        con = self._connect()
        if value is None:
            con.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def documents(self) -> list[DocumentRecord]:
        rows = self._connect().execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY doc_id")
        return [DocumentRecord.from_row(r) for r in rows]

    def find(self, query: DocumentQuery | None = None) -> list[DocumentRecord]:
        """The documents that match ``query`` (all without one), newest first (:func:`by_date`).

        Filtered here rather than in SQL so that a listing and a search's filters (which run on the
        serving snapshot's records) apply one rule."""
        records = self.documents()
        return by_date(r for r in records if not query or query.matches(r))

    def document(self, doc_id: str) -> DocumentRecord | None:
        r = self._connect().execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE doc_id=?",
                                    (doc_id,)).fetchone()
        return DocumentRecord.from_row(r) if r else None

    def hashes(self) -> dict[str, tuple[str, str]]:
        """doc_id → (content_hash, source)."""
        rows = self._connect().execute("SELECT doc_id, content_hash, source FROM documents")
        return {r[0]: (r[1], r[2]) for r in rows}

    def chunk_ids(self, doc_id: str | None = None) -> set[str]:
        con = self._connect()
        if doc_id is None:
            rows = con.execute("SELECT chunk_id FROM chunks")
        else:
            rows = con.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))
        return {r[0] for r in rows}

    def counts(self) -> tuple[int, int]:
        con = self._connect()
        docs = con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return docs, chunks

    def iter_chunks(self, doc_id: str | None = None) -> Iterator[tuple[Chunk, list[str]]]:
        """Every chunk (with its keyword tokens), in document and section order."""
        sql = (
            "SELECT c.chunk_id, c.doc_id, d.title, c.text, c.index_text, c.section, c.kind, c.ord, "
            "c.start, c.\"end\", d.suggestion_no, d.session, d.proposer, d.units, d.source, c.tokens, "
            "COALESCE(json_extract(d.header, '$.issuer'), ''), COALESCE(json_extract(d.header, '$.kind'), ''), "
            "COALESCE(json_extract(d.header, '$.doc_number'), ''), "
            "COALESCE(NULLIF(json_extract(d.header, '$.date'), ''), json_extract(d.header, '$.published'), '') "
            "FROM chunks c JOIN documents d USING(doc_id)"
        )
        args: tuple = ()
        if doc_id is not None:
            sql += " WHERE c.doc_id=?"
            args = (doc_id,)
        sql += " ORDER BY c.doc_id, c.ord"
        # A dedicated connection: the read is one consistent snapshot even while another
        # process commits, and it does not hold this thread's shared connection busy.
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("BEGIN")
            shared: dict[str, str] = {}  # one string object per distinct title, section, source …
            one = lambda v: shared.setdefault(v, v)  # noqa: E731
            for r in con.execute(sql, args):
                chunk = Chunk(
                    chunk_id=r[0], doc_id=one(r[1]), doc_title=one(r[2]), text=r[3], index_text=r[4],
                    section=one(r[5]), kind=one(r[6]), order=r[7], start=r[8], end=r[9],
                    suggestion_no=one(r[10]), session=one(r[11]), proposer=one(r[12]), units=one(r[13]),
                    source=one(r[14]), issuer=one(r[16]), doc_kind=one(r[17]), doc_number=one(r[18]),
                    date=one(r[19]),
                )
                yield chunk, r[15].split(" ") if r[15] else []
            con.execute("COMMIT")
        finally:
            con.close()

    # ---- writes ------------------------------------------------------------------------------
    def replace_document(
        self, record: DocumentRecord, chunks: list[Chunk], tokens: list[list[str]]
    ) -> None:
        """Atomically replace a document and all its chunks, and bump the generation."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("DELETE FROM chunks WHERE doc_id=?", (record.doc_id,))
            con.execute(
                f"INSERT OR REPLACE INTO documents({_DOCUMENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.doc_id, record.source, record.content_hash, record.title,
                    record.suggestion_no, record.session, record.proposer, record.units,
                    len(chunks), json.dumps(record.metadata, ensure_ascii=False),
                    json.dumps(record.header, ensure_ascii=False),
                ),
            )
            con.executemany(
                "INSERT INTO chunks(chunk_id, doc_id, ord, section, kind, text, index_text, tokens, "
                "start, \"end\") VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (c.chunk_id, c.doc_id, c.order, c.section, c.kind, c.text, c.index_text,
                     " ".join(t), c.start, c.end)
                    for c, t in zip(chunks, tokens, strict=True)
                ],
            )
            self._bump(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def retokenize(self, tokenize) -> int:
        """Recompute every chunk's keyword tokens from its indexed text, in one transaction (a
        crash leaves the old tokens), and bump the generation. Returns the number of chunks."""
        con = self._connect()
        rows = con.execute("SELECT chunk_id, index_text FROM chunks").fetchall()
        if not rows:
            return 0
        updates = [(" ".join(tokenize(text)), chunk_id) for chunk_id, text in rows]
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany("UPDATE chunks SET tokens=? WHERE chunk_id=?", updates)
            self._bump(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(updates)

    def update_source(self, doc_id: str, source: str) -> None:
        """A moved file: bumps the generation too, so serving processes show the new source."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("UPDATE documents SET source=? WHERE doc_id=?", (source, doc_id))
            self._bump(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            for doc_id in doc_ids:
                con.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                con.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            self._bump(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @staticmethod
    def _bump(con: sqlite3.Connection) -> None:
        con.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
