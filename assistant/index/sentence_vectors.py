"""Sentence vectors: the meaning of each sentence the extractive answer may quote.

A paraphrase shares no word with the sentence that answers it, so the answer also scores sentences
by meaning: every sentence of a government document's chunks (``split_sentences``, the answer's own
splitter) is embedded once at ingest with the chunks' model and "passage: " prefix, kept in the
embedding cache by text, and loaded with the snapshot as one float16 matrix with each chunk's row
range. At question time a sentence's score is a dot product with the question's vector that the
retriever already computed. A chunk without vectors (an index built before them, a news article)
is answered by words alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from assistant.embedding.cache import EmbeddingCache
from assistant.index.registry import Registry
from assistant.schema import Chunk
from assistant.text import split_sentences

#: Registry meta key: the embedding model every eligible chunk's sentences were embedded with.
MODEL_META = "sentence_vectors_model"
KIND = "passage"  # the chunks' kind in the cache: a one-sentence chunk shares its vector


def is_government_document(kinds: Iterable[str], suggestion_no: str | None) -> bool:
    """Whether a document's sentences get vectors: a numbered reply or a sectioned document.

    News articles (one run of paragraphs, ``intro`` chunks only) are 80% of the sentences of an
    index with 2,000 of them, which would double ingest time (measured: ~120 s more on 2,000
    articles) for sources that are cited beside a reply at most; they keep the word-only choice.
    """
    return bool(suggestion_no) or any(k != "intro" for k in kinds)


def government_chunks(registry: Registry) -> list[Chunk]:
    """The stored chunks of the registry's government documents."""
    numbers = {d.doc_id: d.suggestion_no for d in registry.documents()}
    by_doc: dict[str, list[Chunk]] = {}
    for chunk, _ in registry.iter_chunks():
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    return [c for doc_id, chunks in by_doc.items()
            if is_government_document((c.kind for c in chunks), numbers.get(doc_id)) for c in chunks]


def sentence_texts(chunk: Chunk) -> list[str]:
    """The chunk's sentences, as the extractive answer cuts them."""
    return [chunk.text[a:b] for a, b in split_sentences(chunk.text)]


@dataclass
class SentenceVectors:
    """One float16 matrix of sentence vectors and, per chunk id, its first row (rows follow the
    order of ``split_sentences(chunk.text)``)."""

    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    rows: dict[str, int] = field(default_factory=dict)

    def cosines(self, chunk: Chunk, query: np.ndarray | None) -> dict[tuple[int, int], float] | None:
        """Each sentence span's cosine with ``query``; None when this chunk has no vectors."""
        start = self.rows.get(chunk.chunk_id)
        if start is None or query is None:
            return None
        spans = split_sentences(chunk.text)
        block = self.matrix[start:start + len(spans)].astype(np.float32)
        if len(block) != len(spans):
            return None
        scores = block @ np.asarray(query, dtype=np.float32).reshape(-1)
        return {span: float(s) for span, s in zip(spans, scores)}

    @classmethod
    def load(cls, chunks: Iterable[Chunk], cache: EmbeddingCache, model_id: str | None) -> SentenceVectors:
        """The vectors of ``chunks`` found in ``cache``; a chunk with any sentence missing gets none
        (its sentences are scored by words only)."""
        if not model_id:
            return cls()
        chunks = list(chunks)
        per_chunk = [sentence_texts(c) for c in chunks]
        found = cache.get_many(model_id, KIND, [t for texts in per_chunk for t in texts])
        blocks, rows, at, offset = [], {}, 0, 0
        for chunk, texts in zip(chunks, per_chunk):
            vectors = found[offset:offset + len(texts)]
            offset += len(texts)
            if not texts or any(v is None for v in vectors):
                continue
            rows[chunk.chunk_id] = at
            blocks.append(np.stack(vectors))
            at += len(texts)
        if not blocks:
            return cls()
        matrix = np.concatenate(blocks).astype(np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return cls(matrix.astype(np.float16), rows)
