"""The serving bundle: everything a process needs to embed questions, without torch or transformers.

Written once per model identity, where torch is present (``assistant models prepare``, ``assistant
ingest``, anything that builds an :class:`~assistant.embedding.Embedder`), into
``<models>/onnx/<model id>-b<format>/``::

    encoder.onnx          transformer + mean pooling from token vectors (onnx_query's export), its
    encoder.onnx.data     weights kept in this separate file: ONNX Runtime maps it instead of copying it
                          out of the graph (57 MB less private memory a process, the same vectors bit
                          for bit, measured)
    word_embeddings.npy   the vocabulary's token vectors (250k x 384 float32), loaded memory-mapped:
                          workers share it through the page cache and only the rows used are paged in
    tokenizer.json        the tokenizer transformers runs, for the ``tokenizers`` package
    tokenizer-*           the same, for ``unigram.py``: all but the vocabulary; the pieces as a trie, their
                          ids and scores — all three mapped, not read (format 4; format 3 had a text file of
                          the pieces, read into a ~60 MB dict by every process)
    probes.npy            torch's fp32 pooled vectors of the probe texts
    bundle.json           model id (exactly ``Embedder.model_id``), the setting it was made for,
                          prefixes, special tokens, window, padding id, dimension, probe texts and ids
    manifest.json         sizes and hashes of all of the above, written last

It is built in a staging folder and renamed into place, so a reader sees a whole bundle or none; a torn
or edited one fails its manifest. Loading it (:meth:`ServingBundle.open`) imports numpy only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant import npy
from assistant.embedding.base import TokenLayout
from assistant.embedding.folders import (
    manifest_problem,
    remove_abandoned_staging,
    staging_folder,
    swap_into_place,
    write_json,
    write_manifest,
)
from assistant.embedding.unigram import UnigramTokenizer, write_compact

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bump when the bundle's files or their meaning change: older bundles are then rebuilt or refused.
BUNDLE_FORMAT = 4
ENCODER, ENCODER_INT8, TABLE, TOKENIZER, PROBES, META = (
    "encoder.onnx", "encoder-int8.onnx", "word_embeddings.npy", "tokenizer.json", "probes.npy", "bundle.json")
#: Texts whose torch vectors the bundle stores: the ONNX encoder must reproduce them at every start.
PROBE_TEXTS = ["query: 惠水的土地政策有哪些措施？", "query: what measures address land for Huishui?",
               "passage: 一是加快推动城市群内土地市场一体化建设，按照“产权明晰、市场定价”原则。",
               "query: ２０２３年全省ＧＤＰ增长４．９％，达到20913.25亿元？😀 Mixed 中英文 text",
               "passage: 电话：0851-86812345，邮编550001，http://www.guiyang.gov.cn/zwgk/index.html"]


class BundleProblem(RuntimeError):
    """The serving bundle is missing, torn, stale or does not tokenize as recorded (the reason says)."""


def bundle_folder(models_dir: Path, model_id: str) -> Path:
    """Where the bundle of ``model_id`` lives (one folder per model identity and bundle format)."""
    return Path(models_dir) / "onnx" / f"{_safe(model_id)}-b{BUNDLE_FORMAT}"


def _safe(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", model_id)


def _remove_older_formats(folder: Path, model_id: str) -> None:
    """The same model's bundles of other formats, and the bare encoder files written before bundles."""
    for old in folder.parent.glob(f"{_safe(model_id)}-*"):
        if re.fullmatch(r"-b\d+", old.name[len(_safe(model_id)):]) and old != folder:
            shutil.rmtree(old, ignore_errors=True)
        elif re.fullmatch(r"-v1(-int8)?\.onnx", old.name[len(_safe(model_id)):]):
            old.unlink(missing_ok=True)


def bundle_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete, current bundle (``None`` when it is)."""
    if not folder.is_dir():
        return "not found"
    return manifest_problem(folder, {"bundle_format": BUNDLE_FORMAT})


@dataclass(frozen=True)
class ServingBundle:
    """A checked bundle's description; the encoder, table and tokenizer are opened on demand."""

    folder: Path
    model_id: str
    embedding_model: str  # the ASSISTANT_EMBEDDING_MODEL setting it was made for
    query_prefix: str
    passage_prefix: str
    dim: int
    layout: TokenLayout
    probe_ids: tuple[tuple[int, ...], ...]
    probe_vectors: np.ndarray

    @classmethod
    def open(cls, folder: Path) -> ServingBundle:
        """The bundle in ``folder``, or :class:`BundleProblem` when it is missing, torn or stale."""
        problem = bundle_problem(folder)
        if problem:
            raise BundleProblem(f"{folder}: {problem}")
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            layout = TokenLayout(tuple(meta["head"]), tuple(meta["tail"]), int(meta["window"]), int(meta["pad_id"]))
            probes = npy.load(folder / PROBES)
            return cls(folder, meta["model_id"], meta["embedding_model"], meta["query_prefix"],
                       meta["passage_prefix"], int(meta["dim"]), layout,
                       tuple(tuple(ids) for ids in meta["probe_ids"]), probes)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BundleProblem(f"{folder}: unreadable ({exc})") from exc

    @property
    def encoder_path(self) -> Path:
        return self.folder / ENCODER

    def table(self) -> np.ndarray:
        """The token vectors, memory-mapped read-only (``table[ids]`` copies the rows it needs)."""
        return npy.load(self.folder / TABLE, mmap_mode="r")

    def tokenizer(self) -> TokenizerLike:
        """The tokenizer (``unigram.py``'s where the model is a unigram one: a quarter of the memory, the
        same ids), checked: it must give the recorded ids for every probe text."""
        tokenizer: TokenizerLike | None = UnigramTokenizer.load(self.folder / TOKENIZER)
        if tokenizer is None:
            tokenizer = LibraryTokenizer(self.folder / TOKENIZER)
        head, tail = list(self.layout.head), list(self.layout.tail)
        got = tuple(tuple(head + ids + tail) for ids in tokenizer.encode_batch(PROBE_TEXTS))
        if got != self.probe_ids:
            raise BundleProblem(f"{self.folder}: the tokenizer gives other token ids than when it was written "
                                "(another `tokenizers` version?)")
        return tokenizer


class TokenizerLike(Protocol):
    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without the special tokens around a sequence."""


class LibraryTokenizer:
    """``tokenizers.Tokenizer`` for any ``tokenizer.json``, as :class:`TokenizerLike`."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


# ---------------------------------------------------------------------------------------------
# Writing (where torch is present)
# ---------------------------------------------------------------------------------------------

def ensure_bundle(model: SentenceTransformer, folder: Path, meta: dict[str, Any], *, int8: bool = False,
                  force: bool = False) -> Path:
    """``folder``, holding the bundle of ``model``: reused when intact, else written afresh (atomically;
    two processes writing at once do not clash). ``meta``: model_id, embedding_model, query_prefix,
    passage_prefix. Raises :class:`BundleProblem` (via onnx_query's OnnxUnavailable too) on failure."""
    if not force and bundle_problem(folder) is None:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(folder)
    staging = staging_folder(folder)
    try:
        _write(model, staging, meta, int8=int8)
        swap_into_place(staging, folder, lambda f: bundle_problem(f) is None, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_older_formats(folder, meta["model_id"])
    return folder


def _write(model: SentenceTransformer, staging: Path, meta: dict[str, Any], *, int8: bool) -> None:
    from assistant.embedding.onnx_query import OnnxQueryEncoder, export_encoder, mean_pooled_parts, quantize

    auto_model, table = mean_pooled_parts(model)
    tokenizer = model.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise BundleProblem("only fast (tokenizers) tokenizers can be bundled")
    staging.mkdir(parents=True)
    export_encoder(auto_model, staging / ENCODER)
    _weights_apart(staging / ENCODER)
    np.save(staging / TABLE, table)
    backend.save(str(staging / TOKENIZER))
    write_compact(staging / TOKENIZER)
    pad_id = tokenizer.pad_token_id

    def encode(text: str, special: bool) -> list[int]:
        return tokenizer(text, add_special_tokens=special, truncation=False, verbose=False)["input_ids"]

    layout = TokenLayout.of(encode, int(model.max_seq_length or tokenizer.model_max_length), pad_id)
    probe_ids = [encode(t, True) for t in PROBE_TEXTS]
    np.save(staging / PROBES, _torch_probe_vectors(model, probe_ids, layout.pad_id))
    write_json(staging / META, {
        **meta, "bundle_format": BUNDLE_FORMAT, "dim": int(table.shape[1]), "head": list(layout.head),
        "tail": list(layout.tail), "window": layout.window, "pad_id": layout.pad_id,
        "probe_texts": PROBE_TEXTS, "probe_ids": probe_ids})
    if int8:
        quantize(staging / ENCODER, staging / ENCODER_INT8)
    write_manifest(staging, {"bundle_format": BUNDLE_FORMAT, "model_id": meta["model_id"]})
    bundle = ServingBundle.open(staging)
    bundle.tokenizer()  # the saved tokenizer alone must give transformers' ids
    OnnxQueryEncoder.open(bundle, int8=False)  # and the graph torch's vectors, or nothing is installed


def _weights_apart(path: Path) -> None:
    """Move the graph's weights into ``<name>.data`` beside it (ONNX external data)."""
    import onnx

    model = onnx.load(str(path))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    os.chmod(path.with_name(path.name + ".data"), 0o644)  # onnx writes it 0600; readable like the rest


def _torch_probe_vectors(model: SentenceTransformer, probe_ids: list[list[int]], pad_id: int) -> np.ndarray:
    """Mean-pooled fp32 vectors of the probes straight from the transformer (no autocast)."""
    import torch

    width = max(len(ids) for ids in probe_ids)
    input_ids = torch.full((len(probe_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(probe_ids), width), dtype=torch.long)
    for row, ids in enumerate(probe_ids):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[row, :len(ids)] = 1
    with torch.inference_mode():
        hidden = model[0].auto_model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).float()
        return ((hidden * weights).sum(1) / weights.sum(1)).float().numpy()
