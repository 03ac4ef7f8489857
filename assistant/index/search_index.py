"""A serving process's view of the index: the registry's chunks and BM25 (mapped from the shared
snapshot files), the documents' records, and Chroma.

Loaded once; when another process commits an ingest (the registry's generation changes) the view
is rebuilt in the background and swapped in whole, so a query never sees half of a replaced
document: candidates from Chroma are kept only if the current snapshot knows their chunk id.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.embedding.cache import EmbeddingCache
from assistant.index.keyword_index import KeywordIndex
from assistant.index.mapped import DocChunks
from assistant.index.registry import DocumentRecord, Registry
from assistant.index.sentence_vectors import MODEL_META, SentenceVectors
from assistant.index.snapshot_files import open_or_build
from assistant.index.vectorstore import ChromaVectorStore
from assistant.schema import Chunk
from assistant.settings import Settings
from assistant.text import normalize_for_match


@dataclass
class Snapshot:
    generation: int
    chunks: Mapping[str, Chunk]  # built on demand from the mapped chunk table
    keyword: KeywordIndex
    documents: dict[str, DocumentRecord]
    by_number: dict[str, list[str]] = field(default_factory=dict)  # "第616号" → doc ids
    by_doc: Mapping[str, list[str]] = field(default_factory=dict)  # doc id → its chunk ids, in order
    structured_docs: frozenset[str] = frozenset()  # replies (numbered) and sectioned documents
    by_proposer: dict[str, list[str]] = field(default_factory=dict)  # "凌毅" → doc ids of their suggestions
    sentences: SentenceVectors = field(default_factory=SentenceVectors)  # structured documents' sentences
    _text_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    def text_key(self, chunk: Chunk) -> bytes:
        """Digest of the chunk's normalised text (identical sections in two copies of a reply share
        it); computed once per chunk and snapshot, not once per question."""
        key = self._text_keys.get(chunk.chunk_id)
        if key is None:
            key = self._text_keys[chunk.chunk_id] = hashlib.sha1(
                normalize_for_match(chunk.text).encode()).digest()
        return key

    @classmethod
    def load(cls, registry: Registry, cache_path: Path | None = None) -> Snapshot:
        """The registry's current state, its keyword index and chunks mapped from the shared
        snapshot files (:mod:`snapshot_files`); with ``cache_path`` (the embedding cache), the
        sentence vectors of its structured documents too."""
        files = open_or_build(registry)
        chunks = files.chunks
        documents = {d.doc_id: d for d in files.documents}
        by_number: dict[str, list[str]] = {}
        for d in documents.values():
            if d.suggestion_no:
                by_number.setdefault(d.suggestion_no, []).append(d.doc_id)
        rows = chunks.doc_rows()
        structured = chunks.docs_with_kinds_other_than("intro")
        structured |= {d.doc_id for d in documents.values() if d.suggestion_no}
        by_proposer: dict[str, list[str]] = {}
        for d in documents.values():
            for name in re.split(r"[、,，;；\s]+", d.proposer or ""):
                name = re.sub(r"(代表|委员|同志|等)$", "", name)
                if len(name) >= 2:
                    by_proposer.setdefault(name, []).append(d.doc_id)
        sentences = SentenceVectors()
        if cache_path is not None and Path(cache_path).exists():
            spans = sorted((rows[d] for d in structured if d in rows), key=lambda r: r.start)
            with EmbeddingCache(cache_path) as cache:
                sentences = SentenceVectors.load((chunks.chunk_at(r) for span in spans for r in span), cache,
                                                 registry.get_meta(MODEL_META))
        return cls(files.generation, chunks, files.keyword, documents, by_number, DocChunks(rows, chunks.names),
                   frozenset(structured), by_proposer, sentences)


class SearchIndex:
    """Thread-safe access to the current snapshot plus the vector store."""

    def __init__(self, settings: Settings, registry: Registry | None = None,
                 vectors: ChromaVectorStore | None = None, refresh_interval_s: float = 2.0):
        self.settings = settings
        self.registry = registry or Registry(settings.registry_path)
        self.vectors = vectors or ChromaVectorStore(settings)
        self.refresh_interval_s = refresh_interval_s
        # Loaded on first use: an ingest through the Assistant never needs the keyword matrix.
        self._snapshot: Snapshot | None = None
        self._checked_at = time.monotonic()
        self._reloading = threading.Lock()

    def _load(self) -> Snapshot:
        return Snapshot.load(self.registry, self.settings.embedding_cache_file)

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot; checks (cheaply, at most every few seconds) for a newer one."""
        if self._snapshot is None:
            with self._reloading:
                if self._snapshot is None:
                    self._snapshot = self._load()
                    self._checked_at = time.monotonic()
            return self._snapshot
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_interval_s:
            self._checked_at = now
            try:
                newer = self.registry.generation() != self._snapshot.generation
            except Exception:
                newer = False
            if newer and self._reloading.acquire(blocking=False):
                threading.Thread(target=self._reload, daemon=True).start()
        return self._snapshot

    def reload(self) -> None:
        """Reload now (blocking), e.g. right after this process ingested (a snapshot never loaded
        stays unloaded: the first use loads the current one)."""
        with self._reloading:
            if self._snapshot is not None:
                self._snapshot = self._load()

    def _reload(self) -> None:
        """Another process changed the index: new registry snapshot, and an embedded vector store
        read afresh from disk (it would go on serving the vectors it loaded)."""
        try:
            snapshot = self._load()
            self.vectors.reopen()
            self._snapshot = snapshot
        finally:
            self._reloading.release()

    # ---- the two candidate lists ----------------------------------------------------------------
    def dense(self, snap: Snapshot, vector: np.ndarray, k: int,
              doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        n = len(snap.chunks)
        if n == 0:
            return []
        where = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        hits = self.vectors.query(vector, min(k, n), where=where)
        return [(cid, s) for cid, s in hits if cid in snap.chunks]

    def lexical(self, snap: Snapshot, terms: list[str], k: int,
                doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        allowed = None
        if doc_ids:
            allowed = snap.keyword.mask_for(cid for d in set(doc_ids) for cid in snap.by_doc.get(d, ()))
        return snap.keyword.search(terms, k, allowed=allowed)
