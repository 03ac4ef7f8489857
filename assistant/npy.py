"""Reading ``.npy`` files from several threads at once.

numpy parses a ``.npy`` header with ``ast.literal_eval``, and CPython 3.11's conversion of a syntax tree
into Python objects keeps its recursion depth in shared state: two threads loading at once can fail
with ``SystemError: AST constructor recursion depth mismatch`` (CPython gh-106905). A serving process
maps its word tables and index files while an upload's ingest (or a background refresh of the index)
loads others, so every load goes through one lock. It is held for the header only: a memory-mapped
array's pages are read later, outside it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

__all__ = ["load"]

_LOCK = threading.Lock()


def load(path: Path | str, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load(path, mmap_mode)`` (never pickles), one thread at a time."""
    with _LOCK:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
