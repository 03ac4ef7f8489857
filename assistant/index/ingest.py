"""Incremental, crash-safe ingestion: files → parsed replies → chunks → registry + Chroma.

For each document: its content hash decides whether anything is to be done; new chunk texts are
embedded (only cache misses), written to Chroma, then the registry replaces the document's chunks
in one transaction, then obsolete vectors are deleted. The registry is the source of truth: after a
crash (the run leaves an ``ingest_dirty`` mark until it ends cleanly) the next run reconciles
Chroma against it, so the index ends up exactly as a clean ingest would leave it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.embedding import Embedder, EmbeddingCache
from assistant.index import snapshot_files
from assistant.index.registry import DocumentRecord, Registry
from assistant.index.sentence_vectors import (
    MODEL_META,
    government_chunks,
    is_government_document,
    sentence_texts,
)
from assistant.index.vectorstore import ChromaVectorStore
from assistant.language.lexicon import Lexicon
from assistant.reading.chunking import chunk_document
from assistant.reading.loaders import LoadError, RawText, iter_files, iter_jsonl, load_file
from assistant.reading.parser import parse_reply
from assistant.schema import Chunk
from assistant.settings import Settings

#: Bump to re-chunk every document once for a reason the code below cannot see (a setting).
PIPELINE_VERSION = "1"


@functools.cache
def parser_version() -> str:
    """A fingerprint of the code that turns a file's text into a document and its chunks: the
    ``reading`` package (loaders, header, sections, chunking) and the schema and text helpers it
    builds on. It is part of every content hash, so that after a parser change the next ingest
    re-parses each document — fields and chunks rewritten — while unchanged chunk texts come from
    the embedding cache; a text the new parser still cuts the same way keeps its chunk id."""
    import assistant

    package = Path(assistant.__file__).parent
    files = sorted((package / "reading").rglob("*.py")) + [package / "schema.py", package / "text.py"]
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for file in files:
        h.update(file.relative_to(package).as_posix().encode() + b"\x00" + file.read_bytes() + b"\x00")
    return h.hexdigest()[:16]

ProgressFn = Callable[[str, int], None]  # (event, amount): "document", "chunks", "embedded"


@dataclass
class Failure:
    path: str
    error: str


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    reconciled: bool = False
    retokenized: int = 0  # chunks whose keyword tokens were recomputed for a changed lexicon
    sentences_embedded: int = 0  # sentences of government documents run through the model

    def to_json(self) -> dict:
        return {
            "documents": {
                "added": self.added,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "removed": self.removed,
                "failed": [asdict(f) for f in self.failed],
            },
            "chunks": {"total": self.chunks_total, "embedded": self.chunks_embedded,
                       "retokenized": self.retokenized},
            "sentences": {"embedded": self.sentences_embedded},
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Prepared:
    raw: RawText
    content_hash: str
    chunks: list[Chunk]
    record: DocumentRecord


def content_hash(raw: RawText, settings: Settings) -> str:
    """What decides whether a document is to be (re)parsed: its text, title and metadata, the
    chunk size, and the parser version (so each stored hash also records the parser it was read by)."""
    h = hashlib.sha256()
    for part in (parser_version(), str(settings.max_chunk_chars), raw.title or "", raw.text,
                 json.dumps(raw.metadata, ensure_ascii=False, sort_keys=True)):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class Ingestor:
    """Brings the index in line with a set of files and folders."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        registry: Registry | None = None,
        vectors: ChromaVectorStore | None = None,
        lexicon: Lexicon | None = None,
        batch_docs: int = 64,
    ):
        self.settings = settings
        self.embedder = embedder
        self.registry = registry or Registry(settings.registry_path)
        self.vectors = vectors or ChromaVectorStore(settings)
        self.lexicon = lexicon or Lexicon.default()
        self.cache = EmbeddingCache(settings.embedding_cache_file)
        self.batch_docs = batch_docs

    # ---- public --------------------------------------------------------------------------------
    def run(
        self, paths: Iterable[Path], prune: bool = False, progress: ProgressFn | None = None
    ) -> IngestReport:
        started = time.perf_counter()
        paths = [Path(p) for p in paths]
        report = IngestReport()
        progress = progress or (lambda event, n: None)
        with self._lock():
            if self.registry.get_meta("ingest_dirty"):
                self.reconcile()
                report.reconciled = True
            self.registry.set_meta("ingest_dirty", str(time.time()))
            if self.registry.get_meta("lexicon") != self.lexicon.fingerprint:
                # The dictionaries changed since these tokens were stored ("执法结果互认" now also
                # yields 互认): every document is re-tokenised, nothing is re-embedded.
                report.retokenized = self.registry.retokenize(self.lexicon.tokenize)
                self.registry.set_meta("lexicon", self.lexicon.fingerprint)
            known = self.registry.hashes()
            seen: dict[str, str] = {}  # doc_id → source, this run
            failed_files: set[str] = set()
            batch: list[_Prepared] = []
            for item in self._iter_raw(paths, report, failed_files):
                prepared = self._prepare(item, known, seen)
                if prepared is None:
                    continue
                old = known.get(prepared.record.doc_id)
                if old and old[0] == prepared.content_hash:
                    if old[1] != prepared.raw.source:  # the record is the registry's: compare the file
                        self._move(prepared.record.doc_id, prepared.raw.source)
                    report.unchanged += 1
                    report.chunks_total += prepared.record.n_chunks
                    progress("document", 1)
                    continue
                batch.append(prepared)
                if len(batch) >= self.batch_docs:
                    self._commit(batch, known, report, progress)
                    batch = []
            if batch:
                self._commit(batch, known, report, progress)
            if prune:
                report.removed = self._prune(paths, seen, failed_files)
            if self.registry.get_meta(MODEL_META) != self.embedder.model_id:
                # An index built before sentence vectors (or with another model): fill them in once,
                # from the stored chunks — nothing is re-parsed and no chunk is re-embedded.
                report.sentences_embedded += self._embed_sentences(government_chunks(self.registry))
                self.registry.set_meta(MODEL_META, self.embedder.model_id)
            self.registry.set_meta("ingest_dirty", None)
        snapshot_files.publish(self.registry)
        report.seconds = time.perf_counter() - started
        return report

    def reconcile(self) -> tuple[int, int]:
        """Make Chroma hold exactly the registry's chunks, with the registry's metadata.

        Returns (deleted, added). Metadata is compared too: a run that died after a document's
        registry commit but before the metadata update of its kept chunks (or of a moved file)
        left those with their old position or source, and the next run sees the document as
        unchanged.
        """
        registry_chunks = {c.chunk_id: c for c, _ in self.registry.iter_chunks()}
        stored = self.vectors.metadatas()
        extra = sorted(stored.keys() - registry_chunks.keys())
        if extra:
            self.vectors.delete(extra)
        missing = [c for cid, c in registry_chunks.items() if cid not in stored]
        if missing:
            vectors = self.embedder.embed_passages_cached([c.index_text for c in missing], self.cache)
            self.vectors.upsert(missing, vectors)
        outdated = [c for cid, c in registry_chunks.items() if cid in stored and stored[cid] != c.metadata()]
        if outdated:
            self.vectors.update_metadata(outdated)
        return len(extra), len(missing)

    def remove(self, doc_ids: Iterable[str]) -> int:
        doc_ids = list(doc_ids)
        with self._lock():
            self.registry.set_meta("ingest_dirty", str(time.time()))
            stale = [cid for d in doc_ids for cid in self.registry.chunk_ids(d)]
            self.registry.remove_documents(doc_ids)
            self.vectors.delete(stale)
            self.registry.set_meta("ingest_dirty", None)
        snapshot_files.publish(self.registry)
        return len(doc_ids)

    # ---- steps ---------------------------------------------------------------------------------
    def _move(self, doc_id: str, source: str) -> None:
        """An unchanged document read from a new path: its source changes on both sides."""
        self.registry.update_source(doc_id, source)
        self.vectors.update_metadata([c for c, _ in self.registry.iter_chunks(doc_id)])

    def _lock(self):
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.settings.data_dir / "ingest.lock")

    def _iter_raw(
        self, paths: list[Path], report: IngestReport, failed_files: set[str]
    ) -> Iterator[RawText]:
        for path in paths:
            if not path.exists():
                report.failed.append(Failure(str(path), "文件或文件夹不存在 / no such file or folder"))
                continue
        for file in iter_files([p for p in paths if p.exists()]):
            name = file.name.lower()
            try:
                if name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
                    for item in iter_jsonl(file):
                        if isinstance(item, LoadError):
                            report.failed.append(Failure(str(file), str(item)))
                            failed_files.add(str(file))
                        else:
                            yield item
                else:
                    yield from load_file(file)
            except LoadError as exc:
                report.failed.append(Failure(str(file), str(exc)))
                failed_files.add(str(file))
            except Exception as exc:  # a loader bug must not stop the rest of the folder
                report.failed.append(Failure(str(file), f"无法读取 / cannot read: {exc!r}"))
                failed_files.add(str(file))

    def _prepare(
        self, raw: RawText, known: dict[str, tuple[str, str]], seen: dict[str, str]
    ) -> _Prepared | None:
        doc_id = raw.doc_id
        other = seen.get(doc_id) or (known.get(doc_id, (None, None))[1])
        if other and other != raw.source and (doc_id in seen or Path(_file_of(other)).exists()):
            # Two different files with the same stem: the later one gets a stable suffix.
            doc_id = f"{doc_id}-{hashlib.sha1(raw.source.encode()).hexdigest()[:6]}"
        if doc_id in seen:
            return None  # the same record twice in one run
        seen[doc_id] = raw.source
        if doc_id != raw.doc_id:
            raw = RawText(doc_id=doc_id, text=raw.text, source=raw.source, title=raw.title,
                          metadata=raw.metadata)
        digest = content_hash(raw, self.settings)
        old = known.get(doc_id)
        if old and old[0] == digest:
            # Unchanged: nothing to parse or embed; the record (and chunk count) is the registry's.
            record = self.registry.document(doc_id)
            if record is not None:
                return _Prepared(raw, digest, [], record)
        doc = parse_reply(raw)
        chunks = chunk_document(doc, max_chars=self.settings.max_chunk_chars)
        record = DocumentRecord(
            doc_id=doc.doc_id, source=raw.source, content_hash=digest, title=doc.title,
            suggestion_no=doc.suggestion_no, session=doc.session, proposer=doc.proposer,
            units=doc.handling_units, n_chunks=len(chunks), metadata=raw.metadata,
            header=doc.header.as_dict(),
        )
        return _Prepared(raw, digest, chunks, record)

    def _commit(
        self,
        batch: list[_Prepared],
        known: dict[str, tuple[str, str]],
        report: IngestReport,
        progress: ProgressFn,
    ) -> None:
        # Embed the whole batch at once (length-sorted batches inside the embedder), cache misses only.
        texts = [c.index_text for p in batch for c in p.chunks]
        hits = self.cache.get_many(self.embedder.model_id, "passage", texts)
        misses = sum(1 for h in hits if h is None)
        vectors = self.embedder.embed_passages_cached(texts, self.cache)
        report.chunks_embedded += misses
        progress("embedded", misses)
        # Sentence vectors go into the cache before the registry commit, like the chunks' vectors.
        report.sentences_embedded += self._embed_sentences(
            c for p in batch if is_government_document((c.kind for c in p.chunks), p.record.suggestion_no)
            for c in p.chunks)
        # One vector-store call per kind for the whole batch (each embedded-Chroma call costs ~50 ms
        # whatever its size). Vectors go in before the registry commits the documents, so a committed
        # document always has its vectors; a crash in between is repaired by reconcile().
        offset = 0
        plans = []
        new_chunks, new_vectors = [], []
        for p in batch:
            n = len(p.chunks)
            old_ids = self.registry.chunk_ids(p.record.doc_id)
            for c, v in zip(p.chunks, vectors[offset : offset + n], strict=True):
                if c.chunk_id not in old_ids:
                    new_chunks.append(c)
                    new_vectors.append(v)
            offset += n
            plans.append((p, old_ids))
        if new_chunks:
            self.vectors.upsert(new_chunks, _stack(new_vectors))
        kept, stale = [], []
        for p, old_ids in plans:
            doc_id = p.record.doc_id
            tokens = [self.lexicon.tokenize(c.index_text) for c in p.chunks]
            self.registry.replace_document(p.record, p.chunks, tokens)
            kept += [c for c in p.chunks if c.chunk_id in old_ids]
            stale += sorted(old_ids - {c.chunk_id for c in p.chunks})
            if doc_id in known:
                report.updated += 1
            else:
                report.added += 1
            known[doc_id] = (p.content_hash, p.record.source)
            report.chunks_total += len(p.chunks)
            progress("chunks", len(p.chunks))
            progress("document", 1)
        if kept:  # unchanged text, but its position in the document may have moved
            self.vectors.update_metadata(kept)
        if stale:
            self.vectors.delete(stale)

    def _embed_sentences(self, chunks: Iterable[Chunk]) -> int:
        """Put the sentence vectors of ``chunks`` in the embedding cache; returns how many sentences
        were run through the model (cache misses)."""
        texts = list(dict.fromkeys(t for c in chunks for t in sentence_texts(c)))
        if not texts:
            return 0
        found = self.cache.get_many(self.embedder.model_id, "passage", texts)
        missing = [t for t, v in zip(texts, found) if v is None]
        for start in range(0, len(missing), 2000):  # stored as they come: an interrupted fill resumes
            part = missing[start:start + 2000]
            self.cache.put_many(self.embedder.model_id, "passage", part, self.embedder.embed_passages(part))
        return len(missing)

    def _prune(self, paths: list[Path], seen: dict[str, str], failed_files: set[str]) -> int:
        roots = [p.resolve() for p in paths]
        gone = []
        for doc_id, (_, source) in self.registry.hashes().items():
            if doc_id in seen:
                continue
            file = Path(_file_of(source))
            if str(file) in failed_files:
                continue  # unreadable this time: keep what we had
            under_root = any(_is_within(file.resolve(), r) for r in roots)
            if not file.exists() or under_root:
                gone.append(doc_id)
        if gone:
            stale = [cid for d in gone for cid in self.registry.chunk_ids(d)]
            self.registry.remove_documents(gone)
            self.vectors.delete(stale)
        return len(gone)


def _file_of(source: str) -> str:
    """The file part of a source ("path/to/export.jsonl#12" → "path/to/export.jsonl")."""
    head, sep, tail = source.rpartition("#")
    return head if sep and tail.isdigit() else source


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _stack(vectors):
    import numpy as np

    return np.stack(vectors).astype(np.float32)


class _FileLock:
    """An exclusive lock on a file (released by the OS if the process dies)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self._fh = open(self.path, "a+")
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()
