"""Read-only, memory-mapped tables of the serving snapshot's files.

Every serving worker opens the same files, so their pages live once in the page cache instead of
once per process as Python objects: numpy arrays (``.npy`` opened with ``mmap_mode="r"``), lists
of strings as one UTF-8 blob with offsets, names (chunk ids) as a MARISA trie, and the chunks
themselves, built as :class:`Chunk` objects only when a question looks at them.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import marisa_trie
import numpy as np

from assistant import npy
from assistant.schema import Chunk

#: How many chunks a table keeps built (a question looks at ~60–200; a few questions' worth).
CHUNK_CACHE = 4096


def save_array(path: Path, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def load_array(path: Path) -> np.ndarray:
    """The array in ``path``, mapped read-only (a truncated file raises ``ValueError``)."""
    # A plain ndarray view of the map: numpy.memmap's own indexing is several times slower.
    return np.asarray(npy.load(path, mmap_mode="r"))


class Strings(Sequence[str]):
    """A list of strings as one UTF-8 blob (``<prefix>.bin``) and its offsets (``<prefix>.npy``)."""

    def __init__(self, blob: bytes | mmap.mmap, offsets: np.ndarray):
        self._blob, self._offsets = blob, offsets

    @staticmethod
    def save(prefix: Path, texts: Iterable[str]) -> int:
        """Write ``texts`` (streamed: never all in memory); returns how many."""
        offsets = [0]
        with open(f"{prefix}.bin", "wb") as out:
            for text in texts:
                offsets.append(offsets[-1] + out.write(text.encode()))
        save_array(Path(f"{prefix}.npy"), np.asarray(offsets, dtype=np.int64))
        return len(offsets) - 1

    @classmethod
    def open(cls, prefix: Path) -> Strings:
        offsets = load_array(Path(f"{prefix}.npy"))
        with open(f"{prefix}.bin", "rb") as f:
            size = f.seek(0, 2)
            blob = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        if len(offsets) == 0 or int(offsets[-1]) != size:
            raise ValueError(f"{prefix}.bin does not match its offsets")
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._blob[int(self._offsets[i]):int(self._offsets[i + 1])].decode()


class RowNames(Sequence[str]):
    """Unique names (chunk ids) by row, and each name's row: a trie plus two small arrays.

    Read both ways, so one object serves as the keyword index's ``ids`` (row → id) and its
    ``row_of`` (``get(id)`` → row)."""

    def __init__(self, trie: marisa_trie.Trie, key_of_row: np.ndarray, row_of_key: np.ndarray):
        self._trie, self._key_of_row, self._row_of_key = trie, key_of_row, row_of_key

    @staticmethod
    def save(prefix: Path, names: Sequence[str]) -> None:
        trie = marisa_trie.Trie(names)
        if len(trie) != len(names):
            raise ValueError("names must be unique")
        key_of_row = np.fromiter((trie.key_id(n) for n in names), dtype=np.int32, count=len(names))
        row_of_key = np.empty(len(names), dtype=np.int32)
        row_of_key[key_of_row] = np.arange(len(names), dtype=np.int32)
        trie.save(f"{prefix}.trie")
        save_array(Path(f"{prefix}.rows.npy"), key_of_row)
        save_array(Path(f"{prefix}.keys.npy"), row_of_key)

    @classmethod
    def open(cls, prefix: Path) -> RowNames:
        trie = marisa_trie.Trie()
        trie.mmap(f"{prefix}.trie")
        key_of_row, row_of_key = load_array(Path(f"{prefix}.rows.npy")), load_array(Path(f"{prefix}.keys.npy"))
        if not len(trie) == len(key_of_row) == len(row_of_key):
            raise ValueError(f"{prefix}: trie and rows differ in length")
        return cls(trie, key_of_row, row_of_key)

    def __len__(self) -> int:
        return len(self._key_of_row)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        return self._trie.restore_key(int(self._key_of_row[row]))

    def __iter__(self) -> Iterator[str]:
        return (self[r] for r in range(len(self)))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._trie

    def get(self, name: str, default: int | None = None) -> int | None:
        key = self._trie.get(name)
        return default if key is None else int(self._row_of_key[key])


# Chunk fields stored as an index into the table's distinct strings, then the integer fields.
_STRING_FIELDS = ("doc_id", "doc_title", "section", "kind", "suggestion_no", "session", "proposer", "units",
                  "source", "issuer", "doc_kind", "doc_number", "date")
_INT_FIELDS = ("order", "start", "end")


class ChunkWriter:
    """Writes a :class:`ChunkTable` one chunk at a time (their texts never all in memory)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ids: list[str] = []  # in row order
        self._rows: list[tuple[int, ...]] = []
        self._distinct: dict[str, int] = {}  # each distinct title, section, source … once
        self._offsets = [0]
        self._texts = open(folder / "texts.bin", "wb")  # noqa: SIM115 — written across add() calls, closed by close()

    def add(self, chunk: Chunk) -> None:
        self.ids.append(chunk.chunk_id)
        self._rows.append(tuple(self._distinct.setdefault(getattr(chunk, f), len(self._distinct))
                                for f in _STRING_FIELDS) + tuple(getattr(chunk, f) for f in _INT_FIELDS))
        for text in (chunk.text, chunk.index_text):
            self._offsets.append(self._offsets[-1] + self._texts.write(text.encode()))

    def close(self) -> None:
        self._texts.close()
        save_array(self.folder / "texts.npy", np.asarray(self._offsets, dtype=np.int64))
        Strings.save(self.folder / "strings", self._distinct)
        width = len(_STRING_FIELDS) + len(_INT_FIELDS)
        save_array(self.folder / "fields.npy", np.asarray(self._rows, dtype=np.int64).reshape(-1, width))


class ChunkTable(Mapping[str, Chunk]):
    """chunk id → :class:`Chunk`, read from mapped files; the most recently used stay built."""

    def __init__(self, names: RowNames, fields: np.ndarray, strings: Strings, texts: Strings):
        self.names, self._fields, self._strings, self._texts = names, fields, strings, texts
        self.chunk_at = lru_cache(maxsize=CHUNK_CACHE)(self._build)

    @classmethod
    def open(cls, folder: Path, names: RowNames) -> ChunkTable:
        fields = load_array(folder / "fields.npy")
        texts = Strings.open(folder / "texts")
        if len(fields) != len(names) or len(texts) != 2 * len(names):
            raise ValueError(f"chunk files in {folder} do not match the chunk ids")
        return cls(names, fields, Strings.open(folder / "strings"), texts)

    def _build(self, row: int) -> Chunk:
        values = self._fields[row].tolist()
        n = len(_STRING_FIELDS)
        strings = {f: self._strings[i] for f, i in zip(_STRING_FIELDS, values[:n])}
        ints = dict(zip(_INT_FIELDS, values[n:]))
        return Chunk(chunk_id=self.names[row], text=self._texts[2 * row], index_text=self._texts[2 * row + 1],
                     **strings, **ints)

    def __getitem__(self, chunk_id: str) -> Chunk:
        row = self.names.get(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        return self.chunk_at(row)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def doc_rows(self) -> dict[str, range]:
        """doc id → its chunks' rows (a document's chunks are stored together, in order)."""
        docs = np.asarray(self._fields[:, 0])
        if docs.size == 0:
            return {}
        starts = np.flatnonzero(np.diff(docs, prepend=-1))
        ends = np.append(starts[1:], docs.size)
        return {self._strings[int(docs[s])]: range(int(s), int(e)) for s, e in zip(starts, ends)}

    def docs_with_kinds_other_than(self, kind: str) -> set[str]:
        """The documents with at least one chunk whose kind is not ``kind``."""
        kinds = np.asarray(self._fields[:, _STRING_FIELDS.index("kind")])
        other = [k for k in np.unique(kinds).tolist() if self._strings[k] != kind]
        docs = np.unique(np.asarray(self._fields[:, 0])[np.isin(kinds, other)])
        return {self._strings[int(d)] for d in docs}


class DocChunks(Mapping[str, list[str]]):
    """doc id → its chunk ids in order, computed from the rows when asked."""

    def __init__(self, rows: dict[str, range], names: Sequence[str]):
        self._rows, self._names = rows, names

    def __getitem__(self, doc_id: str) -> list[str]:
        return [self._names[r] for r in self._rows[doc_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
