"""A unigram tokenizer in a few MB of shared memory: the ``tokenizers`` pipeline with the model's Viterbi in Python.

``tokenizers``' ``Unigram`` model keeps its 250k pieces in a byte trie with a hash map per node: 267 MB
for multilingual-e5's vocabulary, as much as everything else a serving process holds. A question is a few
dozen characters, so this module keeps the pieces in a MARISA trie file that every process maps (4 MB,
shared through the page cache; a dict of the pieces would be ~60 MB in each process), with the piece ids
and scores as memory-mapped arrays, and runs the same Viterbi search over them in Python (well under a
millisecond a question: the trie lists every piece starting at a position in one call), while the
normaliser and pre-tokenizer are
still ``tokenizers``' own, read from the same ``tokenizer.json``. Each step follows ``tokenizers``
(``models/unigram/model.rs``: ``encode_optimized``, ``tokenize``; ``added_vocabulary.rs``;
``pre_tokenizers/metaspace.rs``), so ids are the same: the serving bundle checks that on its probe texts
at every start, and the tests on thousands of hard strings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import marisa_trie
import numpy as np

from assistant import npy

_UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY: an unknown character scores min score − 10


#: The compact form of a unigram tokenizer.json: everything but the vocabulary; the pieces as a trie; the
#: piece id of each trie key (int32), then the longest piece's length; the scores by piece id (float64).
SHELL, PIECES, IDS, SCORES = "tokenizer-shell.json", "tokenizer-pieces.marisa", "tokenizer-ids.npy", \
    "tokenizer-scores.npy"


def _supported(spec: dict) -> bool:
    """A Unigram without byte fallback, special added tokens matched unnormalised, and a Metaspace
    (prepend "first", no split) first among the pre-tokenizers — what this module reproduces."""
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    return not (model.get("type") != "Unigram" or model.get("byte_fallback") or model.get("unk_id") is None
                or not steps or steps[0].get("type") != "Metaspace" or steps[0].get("prepend_scheme") != "first"
                or steps[0].get("split") or any(s.get("type") == "Metaspace" for s in steps[1:])
                or any(not t["special"] or t["normalized"] or t["single_word"] or t["lstrip"] or t["rstrip"]
                       for t in spec.get("added_tokens") or []))


def write_compact(path: Path) -> bool:
    """Write the compact files beside a unigram ``tokenizer.json`` (False, writing nothing, for any other
    tokenizer, or a vocabulary with a NUL in a piece)."""
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    vocab = (spec.get("model") or {}).get("vocab") or []
    if not _supported(spec) or not vocab or any("\0" in piece for piece, _ in vocab):
        return False
    folder = Path(path).parent
    trie, ids = _pieces_trie([piece for piece, _ in vocab])
    np.save(folder / SCORES, np.array([score for _, score in vocab], dtype="<f8"))
    np.save(folder / IDS, ids)
    trie.save(str(folder / PIECES))
    spec["model"] = {**spec["model"], "vocab": []}
    (folder / SHELL).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return True


def _pieces_trie(pieces: list[str]) -> tuple[marisa_trie.Trie, np.ndarray]:
    """The pieces' trie and, by trie key id, each piece's id — the last one where a piece repeats, as a
    dict of the vocabulary would have it — followed by the longest piece's length. The empty piece,
    which no search asks for, is left out."""
    trie = marisa_trie.Trie([p for p in pieces if p])
    ids = np.zeros(len(trie) + 1, dtype="<i4")
    for piece_id, piece in enumerate(pieces):
        if piece:
            ids[trie[piece]] = piece_id
    ids[-1] = max(map(len, pieces))
    return trie, ids


class UnigramTokenizer:
    """``encode_batch(texts, add_special_tokens=False)`` ids for a ``tokenizer.json`` whose model is a
    Unigram without byte fallback, whose added tokens are all special and matched unnormalised, and whose
    pre-tokenizer is Metaspace (``prepend_scheme`` "first", no split) optionally followed by others.
    :meth:`load` returns None for any other tokenizer (the caller then uses ``tokenizers`` as is)."""

    def __init__(self, trie: marisa_trie.Trie, ids: np.ndarray, scores: np.ndarray, unk_id: int,
                 specials: dict[str, int], normalizer, pre_tokenizer):
        self.trie = trie  # the pieces; a key id indexes ids
        self.ids = memoryview(ids[:-1])  # piece id by key id (memoryviews index to Python numbers, fast)
        self.scores = memoryview(scores)  # by piece id
        self.unk_id = unk_id
        self.unk_score = float(np.min(scores)) - _UNK_PENALTY
        self.longest = int(ids[-1])
        self.specials = specials
        # Leftmost, longest first: what tokenizers' Aho-Corasick match over the added tokens finds.
        self._special = re.compile("|".join(map(re.escape, sorted(specials, key=len, reverse=True)))) \
            if specials else None
        self.normalizer = normalizer
        self.pre_tokenizer = pre_tokenizer

    @classmethod
    def load(cls, path: Path) -> UnigramTokenizer | None:
        """From the compact files :func:`write_compact` put beside ``tokenizer.json`` (memory-mapped, in
        milliseconds), or from ``tokenizer.json`` itself (parsing its 17 MB of JSON and building the
        trie take a few seconds)."""
        from tokenizers import Tokenizer

        folder = Path(path).parent
        if all((folder / name).is_file() for name in (SHELL, PIECES, IDS, SCORES)):
            spec = json.loads((folder / SHELL).read_text(encoding="utf-8"))
            trie = marisa_trie.Trie()
            trie.mmap(str(folder / PIECES))
            ids = npy.load(folder / IDS, mmap_mode="r")
            scores = npy.load(folder / SCORES, mmap_mode="r")
        else:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
            vocab = (spec.get("model") or {}).get("vocab") or []
            if not _supported(spec) or not vocab:
                return None
            trie, ids = _pieces_trie([piece for piece, _ in vocab])
            scores = np.array([score for _, score in vocab], dtype="<f8")
        if not _supported(spec) or len(ids) != len(trie) + 1 or ids.dtype != np.dtype("<i4") \
                or scores.dtype != np.dtype("<f8") or int(np.max(ids[:-1], initial=0)) >= len(scores):
            return None
        specials = {t["content"]: t["id"] for t in spec.get("added_tokens") or []}
        unk_id = int(spec["model"]["unk_id"])
        # The normaliser and pre-tokenizer objects, without the model's trie: a one-piece stand-in.
        spec["model"] = {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]], "byte_fallback": False}
        spec["added_tokens"] = []
        shell = Tokenizer.from_str(json.dumps(spec))
        return cls(trie, ids, scores, unk_id, specials, shell.normalizer, shell.pre_tokenizer)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def encode(self, text: str) -> list[int]:
        """Token ids without the special tokens around the sequence (``add_special_tokens=False``)."""
        ids: list[int] = []
        at = 0
        for match in self._special.finditer(text) if self._special else ():
            ids += self._segment(text[at:match.start()], first=at == 0)
            ids.append(self.specials[match.group()])
            at = match.end()
        return ids + self._segment(text[at:], first=at == 0)

    def _segment(self, text: str, first: bool) -> list[int]:
        if not text:
            return []
        normalized = self.normalizer.normalize_str(text) if self.normalizer else text
        if not normalized:
            return []
        words = [w for w, _ in self.pre_tokenizer.pre_tokenize_str(normalized)]
        if not first and not normalized.startswith(" ") and words and words[0].startswith("▁"):
            # Metaspace prepends "▁" only where the segment starts the original text.
            words[0] = words[0][1:]
        return [i for word in words if word for i in self._viterbi(word)]

    def _viterbi(self, word: str) -> list[int]:
        """tokenizers' ``encode_optimized`` + ``tokenize``: the best-scoring split into pieces, ties to
        the first found; a character no piece starts with is an unknown, and adjacent unknowns fuse."""
        n = len(word)
        score = [0.0] + [0.0] * n
        start: list[int | None] = [0] + [None] * n
        piece_id = [0] * (n + 1)
        prefixes, ids, scores = self.trie.iter_prefixes_with_ids, self.ids, self.scores
        for i in range(n):
            here, single = score[i], False
            for piece, key in prefixes(word[i:i + self.longest]):  # by length: j ascending
                j = i + len(piece)
                found = ids[key]
                candidate = scores[found] + here
                if start[j] is None or candidate > score[j]:
                    score[j], start[j], piece_id[j] = candidate, i, found
                single = single or j == i + 1
            if not single:
                candidate = self.unk_score + here
                if start[i + 1] is None or candidate > score[i + 1]:
                    score[i + 1], start[i + 1], piece_id[i + 1] = candidate, i, self.unk_id
        spans: list[tuple[int, int, bool]] = []  # (start, end, fused unknowns), last first
        end = n
        while end > 0:
            begin = start[end]
            unknown = piece_id[end] == self.unk_id
            if unknown and spans and spans[-1][2] and spans[-1][0] == end:
                spans[-1] = (begin, spans[-1][1], True)
            else:
                spans.append((begin, end, unknown))
            end = begin
        return [self._piece_id(word[a:b]) for a, b, _ in reversed(spans)]

    def _piece_id(self, piece: str) -> int:
        key = self.trie.get(piece)
        return self.unk_id if key is None else self.ids[key]
