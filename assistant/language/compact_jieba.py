"""jieba's dictionary as a memory-mapped trie: the same cut, without a 600k-entry dict in every process.

``jieba.Tokenizer`` keeps its dictionary in ``FREQ``, a dict of every word and every prefix of a word
(prefixes with count 0): about 600k Python strings and ints, tens of MB in each process and most of a
second to unmarshal from jieba's cache. This module writes the words with a count above 0 — after our
place names and terms are added, so the merged dictionary — once into two files beside jieba's cache::

    assistant-jieba-<key>.marisa      the words, a MARISA trie (a word's key id indexes the counts)
    assistant-jieba-<key>.counts.npy  int64: the count of each key id, then jieba's ``total``, then the
                                      longest word's length

and :class:`CompactJieba` opens them memory-mapped: every worker shares the same pages through the page
cache and loading takes milliseconds. ``<key>`` is the tokenizer's fingerprint (the token scheme's
version, jieba's version and the files that decide the cut) with this format's version, so a change to
any of them writes a new pair. Files are written to a temporary name and renamed; two workers starting
together at worst each write the same content.

Why the cut is the same: jieba's DAG at position k lists the ends of the dictionary words (count > 0)
that start there, found by extending the fragment while it is still a prefix of some word; those are
exactly the trie's keys that are prefixes of the text from k, in the same order. The route is jieba's
``calc`` with the same arithmetic in the same order (``log(count or 1) - log(total) + next``), HMM and
the rest of ``cut`` are jieba's own code, inherited. Tests compare both on a large real sample and on
random text.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from math import log
from pathlib import Path

import jieba
import marisa_trie
import numpy as np

from assistant import npy

__all__ = ["COMPACT_FORMAT", "CompactJieba", "open_or_write"]

log_ = logging.getLogger(__name__)

#: Bump when the files' layout or meaning changes (part of their name, so old files are ignored).
COMPACT_FORMAT = "3"
_MAX_WEIGHTS = 200_000  # words whose log count is remembered (~25 MB at most, a few kB when serving)


class CompactCounts:
    """``FREQ`` for :class:`CompactJieba`, read-only: ``get(word)`` is the word's count, or ``default``
    for a text that is no word (jieba's own dict says 0 for a mere prefix; both are falsy)."""

    __slots__ = ("_counts", "_trie", "_words")

    def __init__(self, trie: marisa_trie.Trie, counts: memoryview, words: int) -> None:
        self._trie, self._counts, self._words = trie, counts, words

    def get(self, word: str, default: int | None = None) -> int | None:
        key = self._trie.get(word)
        return default if key is None else self._counts[key]

    def __len__(self) -> int:
        return self._words


class CompactJieba(jieba.Tokenizer):
    """A ``jieba.Tokenizer`` over the compact files: ``cut`` (with and without HMM), ``get_DAG`` and
    ``calc`` give what the tokenizer they were written from gives. The dictionary is fixed: adding a
    word means writing new files (:func:`open_or_write`)."""

    def __init__(self, trie: marisa_trie.Trie, counts: np.ndarray) -> None:
        super().__init__()
        words = len(counts) - 2
        self.trie, self.counts = trie, counts  # the words (a key id indexes counts) and their counts
        self._counts = memoryview(counts)  # indexing gives Python ints, as jieba's dict does
        self._longest = int(counts[-1])
        self.FREQ = CompactCounts(trie, self._counts, words)
        self.total = int(counts[-2])
        self.initialized = True
        self._weights: dict[str, float] = {}

    @classmethod
    def open(cls, stem: Path) -> CompactJieba:
        """The tokenizer in the files at ``stem`` (OSError or ValueError when they are missing, torn or do
        not belong together)."""
        counts = npy.load(_counts_path(stem), mmap_mode="r")
        trie = marisa_trie.Trie()
        trie.mmap(str(_trie_path(stem)))
        if counts.dtype != np.dtype("<i8") or counts.ndim != 1 or len(counts) != len(trie) + 2:
            raise ValueError(f"{stem}: the trie and the counts do not belong together")
        return cls(trie, counts)

    def get_DAG(self, sentence: str) -> dict[int, list[int]]:
        prefixes, longest = self.trie.prefixes, self._longest
        dag = {}
        for k in range(len(sentence)):
            dag[k] = [k - 1 + n for n in map(len, prefixes(sentence[k:k + longest]))] or [k]
        return dag

    def calc(self, sentence: str, DAG: dict[int, list[int]], route: dict) -> None:
        weights, weight = self._weights, self._weight
        route[len(sentence)] = (0, 0)
        logtotal = log(self.total)
        for idx in range(len(sentence) - 1, -1, -1):
            route[idx] = max(((w if (w := weights.get(word := sentence[idx:x + 1])) is not None else weight(word))
                              - logtotal + route[x + 1][0], x) for x in DAG[idx])

    def _weight(self, word: str) -> float:
        """``log(count or 1)`` of a word, remembered: a trie look-up costs more than a dict's, and
        the words a text is cut into recur (bounded; a word's weight is tiny next to jieba's dict)."""
        key = self.trie.get(word)
        if len(self._weights) > _MAX_WEIGHTS:
            self._weights.clear()
        weight = self._weights[word] = log(1 if key is None else self._counts[key])
        return weight

    def add_word(self, word: str, freq: int | None = None, tag: str | None = None) -> None:
        raise TypeError("CompactJieba's dictionary is fixed: write new files with the word instead")


def _trie_path(stem: Path) -> Path:
    return stem.with_name(stem.name + ".marisa")


def _counts_path(stem: Path) -> Path:
    return stem.with_name(stem.name + ".counts.npy")


def compact(tokenizer: jieba.Tokenizer) -> CompactJieba:
    """The compact form of ``tokenizer``'s dictionary (its words with a count above 0), in memory."""
    freq = tokenizer.FREQ
    words = [word for word, count in freq.items() if count]
    trie = marisa_trie.Trie(words)
    counts = np.zeros(len(trie) + 2, dtype="<i8")
    for word in words:
        counts[trie[word]] = freq[word]
    counts[-2] = tokenizer.total
    counts[-1] = max(map(len, words))
    return CompactJieba(trie, counts)


def write(tokenizer: CompactJieba, stem: Path) -> None:
    """Write a compact tokenizer's files at ``stem``; the trie last, each file through a temporary file
    and a rename."""
    stem.parent.mkdir(parents=True, exist_ok=True)

    def save_counts(temp: Path) -> None:
        with temp.open("wb") as handle:  # a handle: given a name, numpy would add ".npy" to it
            np.save(handle, np.asarray(tokenizer.counts))

    _atomic(_counts_path(stem), save_counts)
    _atomic(_trie_path(stem), lambda temp: tokenizer.trie.save(str(temp)))


def _atomic(path: Path, write_to: Callable[[Path], object]) -> None:
    """``write_to(temporary path)``, then the temporary file renamed to ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        write_to(temp)
        temp.chmod(0o644)  # mkstemp makes it 0600; other users' workers may share the cache
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def open_or_write(folder: Path, key: str, build) -> CompactJieba:
    """The compact tokenizer for ``key`` in ``folder``, written first from ``build()`` (a full
    ``jieba.Tokenizer``) when it is missing or unreadable; built in memory when it cannot be written."""
    stem = folder / f"assistant-jieba-{key}-c{COMPACT_FORMAT}"
    try:
        return CompactJieba.open(stem)
    except (OSError, ValueError, RuntimeError) as exc:
        if any(path(stem).exists() for path in (_trie_path, _counts_path)):
            log_.warning("rewriting jieba's compact dictionary %s (%s)", stem, exc)
    built = compact(build())
    try:
        write(built, stem)
    except OSError as exc:  # a read-only or full cache folder: this process keeps its own copy
        log_.warning("cannot write jieba's compact dictionary %s (%s): each process builds its own", stem, exc)
        return built
    return CompactJieba.open(stem)
