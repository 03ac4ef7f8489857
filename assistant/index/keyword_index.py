"""The keyword side of the index: BM25 over the chunks' jieba tokens.

Postings live in a column-compressed sparse matrix (term → chunks), so a query touches only the
columns of its own terms: a handful of numpy operations, whatever the corpus size. Chunks added
after the matrix was built go to a small in-memory delta and removed ones are masked out; the
matrix is rebuilt when the delta grows. The tokens come from the registry, so the index is always
derived from the same chunk ids as the vector store.

A built index can be saved as files (:meth:`KeywordIndex.save`) and opened memory-mapped
(:meth:`KeywordIndex.open`), so that every serving process shares one copy through the page cache
instead of rebuilding its own; a mapped index becomes an ordinary in-memory one the first time
something adds or removes chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import marisa_trie
import numpy as np

from assistant.index.mapped import RowNames, load_array, save_array


def _sparse():
    """scipy.sparse, imported by what builds or changes a matrix: a serving process that maps a
    saved index never needs it (~23 MB of imports, measured; 0.2–1.4 s by the load)."""
    from scipy import sparse

    return sparse


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
        # The matrix's CSC arrays: rows of term t are indices[indptr[t]:indptr[t + 1]].
        self._indptr = np.zeros(1, dtype=np.int64)
        self._indices = np.zeros(0, dtype=np.int32)
        self._data = np.zeros(0, dtype=np.float32)
        self._mapped = False  # vocab, ids and arrays are read-only views of saved files
        self._matrix_rows = 0  # rows covered by the matrix; later rows are the delta
        self._delta: dict[int, dict[int, int]] = {}  # term → {row: tf}
        self._df = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.alive.sum())

    # ---- building ------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, list[str]]]) -> None:
        """Add (or replace) chunks given as (chunk_id, tokens); searchable at once (small delta)."""
        self._thaw()
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
        self._thaw()
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
        self._thaw()
        for chunk_id in chunk_ids:
            row = self.row_of.pop(chunk_id, None)
            if row is None or not self.alive[row]:
                continue
            self.alive[row] = False
            self._df[self._rows[row][0]] -= 1

    def rebuild(self) -> None:
        """Fold the delta into the matrix and drop removed rows."""
        self._thaw()
        keep = np.flatnonzero(self.alive)
        ids = [self.ids[r] for r in keep]
        rows = [self._rows[r] for r in keep]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r[0]) for r in rows], out=indptr[1:])
        indices = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int32)
        data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        csr = _sparse().csr_matrix((data, indices, indptr), shape=(len(rows), max(len(self.vocab), 1)))
        csc = csr.tocsc()
        self._indptr, self._indices, self._data = csc.indptr, csc.indices, csc.data
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
        if tid < len(self._indptr) - 1:
            start, end = self._indptr[tid], self._indptr[tid + 1]
            rows_parts.append(self._indices[start:end])
            tf_parts.append(self._data[start:end])
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

    # ---- files -----------------------------------------------------------------------------------
    _ARRAYS = ("indptr", "indices", "data", "lengths", "df")

    def save(self, folder: Path) -> None:
        """Write the index (delta folded in, removed rows dropped) into ``folder``: the vocabulary
        as a trie whose key ids are the matrix's columns, the chunk ids as a second trie."""
        self.rebuild()
        vocab = marisa_trie.Trie(list(self.vocab))
        n_terms = len(self.vocab)
        column = np.zeros(n_terms, dtype=np.int64)  # old term id → the trie's key id
        for term, tid in self.vocab.items():
            column[tid] = vocab.key_id(term)
        order = np.argsort(column)  # new column j holds old column order[j]
        old = _sparse().csc_matrix((self._data, self._indices, self._indptr),
                                shape=(len(self.ids), len(self._indptr) - 1))[:, order]
        vocab.save(str(folder / "vocab.trie"))
        RowNames.save(folder / "chunk_ids", self.ids)
        save_array(folder / "indptr.npy", old.indptr.astype(np.int64))
        save_array(folder / "indices.npy", old.indices.astype(np.int32))
        save_array(folder / "data.npy", old.data.astype(np.float32))
        save_array(folder / "lengths.npy", self.lengths.astype(np.float32))
        save_array(folder / "df.npy", self._df[:n_terms][order].astype(np.float32))

    @classmethod
    def open(cls, folder: Path, k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
        """The index saved in ``folder``, memory-mapped (read-only, shared with other processes)."""
        index = cls(k1, b)
        vocab = marisa_trie.Trie()
        vocab.mmap(str(folder / "vocab.trie"))
        index.vocab = vocab  # type: ignore[assignment] — read like a dict: ``in``, ``get``, ``len``
        names = RowNames.open(folder / "chunk_ids")
        index.ids = index.row_of = names  # type: ignore[assignment] — row → id and id → row
        index._indptr, index._indices, index._data, index.lengths, index._df = (
            load_array(folder / f"{name}.npy") for name in cls._ARRAYS)
        if len(index._indptr) != len(vocab) + 1 or len(index.lengths) != len(names) or len(index._df) != len(vocab):
            raise ValueError(f"inconsistent keyword index files in {folder}")
        index.alive = np.ones(len(names), dtype=bool)
        index._matrix_rows = len(names)
        index._mapped = True
        return index

    def _thaw(self) -> None:
        """Turn a mapped index into an in-memory one that can change (what adding needs: the rows'
        terms, a growing vocabulary), keeping the mapped term ids."""
        if not self._mapped:
            return
        vocab = self.vocab
        csr = _sparse().csc_matrix((self._data, self._indices, self._indptr),
                                shape=(len(self.ids), len(self._indptr) - 1)).tocsr()
        self._rows = [(csr.indices[csr.indptr[r]:csr.indptr[r + 1]].astype(np.int32),
                       csr.data[csr.indptr[r]:csr.indptr[r + 1]].astype(np.float32)) for r in range(csr.shape[0])]
        self.vocab = {vocab.restore_key(i): i for i in range(len(vocab))}  # type: ignore[attr-defined]
        self.ids = list(self.ids)
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}
        self.lengths, self._df = np.array(self.lengths), np.array(self._df)
        self._indptr, self._indices, self._data = (np.array(a) for a in (self._indptr, self._indices, self._data))
        self._mapped = False
