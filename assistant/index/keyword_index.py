"""The keyword side of the index: BM25 over the chunks' jieba tokens.

Postings live in a column-compressed sparse matrix (term → chunks), so a query touches only the
columns of its own terms: a handful of numpy operations, whatever the corpus size. Chunks added
after the matrix was built go to a small in-memory delta and removed ones are masked out; the
matrix is rebuilt when the delta grows. The tokens come from the registry, so the index is always
derived from the same chunk ids as the vector store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from scipy import sparse


class KeywordIndex:
    """Okapi BM25 (k1=1.2, b=0.75) with incremental add/remove."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, rebuild_threshold: int = 2000):
        self.k1, self.b = k1, b
        self.rebuild_threshold = rebuild_threshold
        self.vocab: dict[str, int] = {}
        self.ids: list[str] = []  # row → chunk id
        self.row_of: dict[str, int] = {}
        self.lengths = np.zeros(0, dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)
        # Term ids and counts per row, kept compact (numpy) for rebuilds and removals.
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []
        self._matrix = sparse.csc_matrix((0, 0), dtype=np.float32)
        self._matrix_rows = 0  # rows covered by the matrix; later rows are the delta
        self._delta: dict[int, dict[int, int]] = {}  # term → {row: tf}
        self._df = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.alive.sum())

    # ---- building ------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, list[str]]]) -> None:
        """Add (or replace) chunks given as (chunk_id, tokens); searchable at once (small delta)."""
        first = len(self.ids)
        self._append(items)
        for row in range(first, len(self.ids)):
            terms, tfs = self._rows[row]
            for term, tf in zip(terms.tolist(), tfs.tolist()):
                self._delta.setdefault(term, {})[row] = tf
        if len(self.ids) - self._matrix_rows > self.rebuild_threshold:
            self.rebuild()

    def load(self, items: Iterable[tuple[str, list[str]]]) -> None:
        """Add many chunks at once (a snapshot's whole index) and build the matrix: no per-posting
        delta on the way, which for 46k chunks held ~7M dict entries (gigabytes) until the end."""
        self._append(items)
        self.rebuild()

    def _append(self, items: Iterable[tuple[str, list[str]]]) -> None:
        new_lengths: list[int] = []
        vocab = self.vocab
        for chunk_id, tokens in items:
            if chunk_id in self.row_of:
                self.remove([chunk_id])
            counts = Counter(tokens)  # counting strings in C, then one vocabulary lookup per distinct term
            counts.pop("", None)
            self.ids.append(chunk_id)
            self.row_of[chunk_id] = len(self.ids) - 1
            terms = np.fromiter((vocab.setdefault(t, len(vocab)) for t in counts), dtype=np.int32, count=len(counts))
            self._rows.append((terms, np.fromiter(counts.values(), dtype=np.float32, count=len(counts))))
            new_lengths.append(sum(counts.values()))
            if self._df.shape[0] < len(self.vocab):
                self._df = np.concatenate([self._df, np.zeros(len(self.vocab) - self._df.shape[0] + 1024, np.float32)])
            self._df[terms] += 1
        if new_lengths:
            self.lengths = np.concatenate([self.lengths, np.asarray(new_lengths, np.float32)])
            self.alive = np.concatenate([self.alive, np.ones(len(new_lengths), bool)])

    def remove(self, chunk_ids: Iterable[str]) -> None:
        for chunk_id in chunk_ids:
            row = self.row_of.pop(chunk_id, None)
            if row is None or not self.alive[row]:
                continue
            self.alive[row] = False
            self._df[self._rows[row][0]] -= 1

    def rebuild(self) -> None:
        """Fold the delta into the matrix and drop removed rows."""
        keep = np.flatnonzero(self.alive)
        ids = [self.ids[r] for r in keep]
        rows = [self._rows[r] for r in keep]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r[0]) for r in rows], out=indptr[1:])
        indices = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
        data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        csr = sparse.csr_matrix((data, indices, indptr), shape=(len(rows), max(len(self.vocab), 1)))
        self._matrix = csr.tocsc()
        self.ids, self._rows = ids, rows
        self.row_of = {cid: i for i, cid in enumerate(ids)}
        self.lengths = self.lengths[keep]
        self.alive = np.ones(len(ids), dtype=bool)
        self._matrix_rows = len(ids)
        self._delta = {}

    # ---- searching -----------------------------------------------------------------------------
    def search(
        self, terms: list[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (chunk_id, BM25 score) for the query terms; ``allowed`` is a boolean row mask."""
        n_alive = len(self)
        if n_alive == 0 or not terms:
            return []
        avgdl = float(self.lengths[self.alive].mean()) or 1.0
        scores = np.zeros(len(self.ids), dtype=np.float32)
        norm = self.k1 * (1 - self.b + self.b * self.lengths / avgdl)
        for term, qtf in Counter(terms).items():
            tid = self.vocab.get(term)
            if tid is None or tid >= self._df.shape[0] or self._df[tid] <= 0:
                continue
            df = float(self._df[tid])
            idf = np.log(1.0 + (n_alive - df + 0.5) / (df + 0.5))
            rows, tfs = self._postings(tid)
            if rows.size:
                scores[rows] += qtf * idf * tfs * (self.k1 + 1) / (tfs + norm[rows])
        mask = self.alive if allowed is None else (self.alive & allowed[: len(self.alive)])
        scores[~mask] = 0.0
        hits = np.flatnonzero(scores > 0)
        if hits.size == 0:
            return []
        top = hits[np.argsort(-scores[hits], kind="stable")[:k]]
        return [(self.ids[r], float(scores[r])) for r in top]

    def _postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        rows_parts, tf_parts = [], []
        if tid < self._matrix.shape[1]:
            start, end = self._matrix.indptr[tid], self._matrix.indptr[tid + 1]
            rows_parts.append(self._matrix.indices[start:end])
            tf_parts.append(self._matrix.data[start:end])
        delta = self._delta.get(tid)
        if delta:
            rows_parts.append(np.fromiter(delta.keys(), dtype=np.int32, count=len(delta)))
            tf_parts.append(np.fromiter(delta.values(), dtype=np.float32, count=len(delta)))
        if not rows_parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        return np.concatenate(rows_parts), np.concatenate(tf_parts)

    def idf_of(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25 idf of each distinct term; a term the corpus never uses gets the highest idf."""
        n = max(len(self), 1)
        out = {}
        for term in terms:
            tid = self.vocab.get(term)
            df = float(self._df[tid]) if tid is not None and tid < self._df.shape[0] else 0.0
            out[term] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def contains(self, groups: list[tuple[str, ...]], chunk_ids: list[str]) -> np.ndarray:
        """``out[g, c]``: chunk ``c`` holds at least one term of group ``g``. Reads only the postings
        of the groups' terms, so it costs the same whatever the chunks' lengths."""
        out = np.zeros((len(groups), len(chunk_ids)), dtype=bool)
        rows = np.fromiter((self.row_of.get(cid, -1) for cid in chunk_ids), dtype=np.int64,
                           count=len(chunk_ids))
        for g, group in enumerate(groups):
            for term in group:
                tid = self.vocab.get(term)
                if tid is not None:
                    out[g] |= np.isin(rows, self._postings(tid)[0])
        out[:, rows < 0] = False
        return out

    def mask_for(self, chunk_ids: Iterable[str]) -> np.ndarray:
        mask = np.zeros(len(self.ids), dtype=bool)
        for cid in chunk_ids:
            row = self.row_of.get(cid)
            if row is not None:
                mask[row] = True
        return mask
