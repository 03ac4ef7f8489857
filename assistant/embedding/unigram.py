"""A unigram tokenizer in a quarter of the memory: the ``tokenizers`` pipeline with the model's Viterbi in Python.

``tokenizers``' ``Unigram`` model keeps its 250k pieces in a byte trie with a hash map per node: 267 MB
for multilingual-e5's vocabulary, as much as everything else a serving process holds. A question is a few
dozen characters, so this module keeps the pieces in one dict (~60 MB) and runs the same Viterbi search
over them in Python (well under a millisecond a question), while the normaliser and pre-tokenizer are
still ``tokenizers``' own, read from the same ``tokenizer.json``. Each step follows ``tokenizers``
(``models/unigram/model.rs``: ``encode_optimized``, ``tokenize``; ``added_vocabulary.rs``;
``pre_tokenizers/metaspace.rs``), so ids are the same: the serving bundle checks that on its probe texts
at every start, and the tests on thousands of hard strings.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY: an unknown character scores min score − 10


#: The compact form of a unigram tokenizer.json: everything but the vocabulary, the pieces joined by NUL,
#: and their scores.
SHELL, PIECES, SCORES = "tokenizer-shell.json", "tokenizer-pieces.txt", "tokenizer-scores.npy"


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
    np.save(folder / SCORES, np.array([score for _, score in vocab], dtype="<f8"))
    (folder / PIECES).write_bytes("\0".join(piece for piece, _ in vocab).encode("utf-8"))
    spec["model"] = {**spec["model"], "vocab": []}
    (folder / SHELL).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return True


class UnigramTokenizer:
    """``encode_batch(texts, add_special_tokens=False)`` ids for a ``tokenizer.json`` whose model is a
    Unigram without byte fallback, whose added tokens are all special and matched unnormalised, and whose
    pre-tokenizer is Metaspace (``prepend_scheme`` "first", no split) optionally followed by others.
    :meth:`load` returns None for any other tokenizer (the caller then uses ``tokenizers`` as is)."""

    def __init__(self, pieces: dict[str, int], scores: Sequence[float], unk_id: int, specials: dict[str, int],
                 normalizer, pre_tokenizer):
        self.pieces = pieces  # piece → id
        self.scores = scores  # by id
        self.unk_id = unk_id
        self.unk_score = min(scores) - _UNK_PENALTY
        self.longest = max(len(p) for p in pieces)
        self.specials = specials
        # Leftmost, longest first: what tokenizers' Aho-Corasick match over the added tokens finds.
        self._special = re.compile("|".join(map(re.escape, sorted(specials, key=len, reverse=True)))) \
            if specials else None
        self.normalizer = normalizer
        self.pre_tokenizer = pre_tokenizer

    @classmethod
    def load(cls, path: Path) -> UnigramTokenizer | None:
        """From ``tokenizer.json``, or — four times faster (parsing its 17 MB of JSON is most of the
        time) — from the compact files :func:`write_compact` put beside it."""
        from tokenizers import Tokenizer

        folder = Path(path).parent
        if all((folder / name).is_file() for name in (SHELL, PIECES, SCORES)):
            spec = json.loads((folder / SHELL).read_text(encoding="utf-8"))
            vocab_pieces = (folder / PIECES).read_bytes().decode("utf-8").split("\0")  # no newline translation
            scores = array("d", np.load(folder / SCORES).astype("<f8").tobytes())
        else:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
            vocab = (spec.get("model") or {}).get("vocab") or []
            vocab_pieces = [piece for piece, _ in vocab]
            scores = array("d", (score for _, score in vocab))  # 2 MB, not 250k float objects
        if not _supported(spec) or len(vocab_pieces) != len(scores):
            return None
        pieces = {piece: i for i, piece in enumerate(vocab_pieces)}
        specials = {t["content"]: t["id"] for t in spec.get("added_tokens") or []}
        unk_id = int(spec["model"]["unk_id"])
        # The normaliser and pre-tokenizer objects, without the model's trie: a one-piece stand-in.
        spec["model"] = {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]], "byte_fallback": False}
        spec["added_tokens"] = []
        shell = Tokenizer.from_str(json.dumps(spec))
        return cls(pieces, scores, unk_id, specials, shell.normalizer, shell.pre_tokenizer)

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
        for i in range(n):
            here, single = score[i], False
            for j in range(i + 1, min(n, i + self.longest) + 1):
                found = self.pieces.get(word[i:j])
                if found is None:
                    continue
                candidate = self.scores[found] + here
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
        return [self.pieces.get(word[a:b], self.unk_id) for a, b, _ in reversed(spans)]
