"""Questions only, without torch: the embedder of a process that answers and never ingests.

:class:`QueryEmbedder` reads the serving bundle (``bundle.py``) that ``assistant models prepare`` and
``assistant ingest`` write: ONNX Runtime runs the encoder, the ``tokenizers`` package the tokenizer, and
the vocabulary's table is memory-mapped; a unigram vocabulary is searched by ``unigram.py`` (the same ids
in a quarter of the memory). Its question vectors are the torch-loaded
:class:`~assistant.embedding.Embedder`'s ONNX ones bit for bit (same graph, same table, same tokens, same
windows and batches: ``base.py``). It never imports torch, transformers or sentence-transformers, and it
refuses to start — with a message saying which command fixes it — when the bundle is missing, torn,
disagrees with torch on the probe texts, or belongs to another model than the one the index was built with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from assistant.embedding.base import BaseEmbedder
from assistant.embedding.bundle import BundleProblem, ServingBundle, bundle_folder
from assistant.embedding.onnx_query import OnnxQueryEncoder, OnnxUnavailable
from assistant.embedding.prepare import ModelUnavailableError
from assistant.settings import Settings

log = logging.getLogger(__name__)

_FIX_ZH = "请在装有 torch 的环境中运行 `assistant models prepare` 或 `assistant ingest` 生成查询编码包。"
_FIX_EN = "Run `assistant models prepare` or `assistant ingest` (where torch is installed) to write it."


class PassagesNeedTorch(RuntimeError):
    """A query-only embedder was asked to embed passages (an ingest): that needs the torch Embedder."""


class QueryEmbedder(BaseEmbedder):
    """Question vectors from the serving bundle: ``embed_query`` (LRU), ``embed_queries``, ``model_id``,
    ``dim``, the prefixes — what retrieval calls. Passages raise :class:`PassagesNeedTorch`.

    >>> embedder = QueryEmbedder.for_index(Settings(), "multilingual-e5-small#62772bffe4b44e0b")  # doctest: +SKIP
    >>> embedder.embed_query("惠水的土地政策有哪些")                                              # doctest: +SKIP
    """

    def __init__(self, bundle: ServingBundle, encoder: OnnxQueryEncoder, tokenizer, *, batch_size: int = 16,
                 query_cache_size: int = 2048):
        super().__init__(model_id=bundle.model_id, dim=bundle.dim, layout=bundle.layout,
                         query_prefix=bundle.query_prefix, passage_prefix=bundle.passage_prefix,
                         batch_size=batch_size, query_cache_size=query_cache_size)
        self.bundle = bundle
        self.query_encoder = encoder
        self.tokenizer = tokenizer

    @classmethod
    def for_index(cls, settings: Settings, index_model_id: str | None) -> QueryEmbedder:
        """The embedder for an index built with ``index_model_id`` (``None``: an index that records no
        model yet, answered with the configured one's bundle). Raises :class:`ModelUnavailableError`
        (Chinese, then English, naming the command that fixes it) when the bundle is missing, torn or
        stale, disagrees with torch, or was made for another ``ASSISTANT_EMBEDDING_MODEL``."""
        bundle = _find_bundle(settings, index_model_id)
        try:
            tokenizer = bundle.tokenizer()
            encoder = OnnxQueryEncoder.open(bundle, int8=settings.query_int8)
        except (BundleProblem, OnnxUnavailable, OSError) as exc:
            raise ModelUnavailableError(f"查询编码包不可用（{exc}）。" + _FIX_ZH,
                                        f"The query encoder bundle is unusable ({exc}). " + _FIX_EN) from exc
        return cls(bundle, encoder, tokenizer, batch_size=settings.embedding_batch_size,
                   query_cache_size=settings.query_cache_size)

    def set_threads(self, threads: int) -> None:
        """Kept for the server's call: each question runs on one ONNX Runtime thread whatever is asked
        (the thread count the torch-loaded Embedder's ONNX queries use too, so vectors stay bit-identical);
        concurrent questions use the other cores, as ONNX Runtime releases the GIL."""

    def _embed(self, texts: list[str], queries: bool = False) -> np.ndarray:
        if not queries:
            self.embed_passages(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:  # one tokenizer object shared by the request threads
            ids = self.tokenizer.encode_batch(texts)
        encoder = self.query_encoder
        return self._pool_windows(ids, lambda sequences: encoder.pool(sequences, self.layout.pad_id))

    def embed_passages(self, texts: Sequence[str]) -> NoReturn:
        raise PassagesNeedTorch(
            "这个进程只回答问题（未加载 torch），不能嵌入文档；请用 `assistant ingest` 导入。/ This process only "
            "answers questions (torch is not loaded) and cannot embed passages; ingest with `assistant ingest`.")

    def embed_passages_cached(self, texts: Sequence[str], cache) -> NoReturn:
        self.embed_passages(texts)


def _find_bundle(settings: Settings, index_model_id: str | None) -> ServingBundle:
    """The bundle of the index's model, or of the configured model where the index records none."""
    name = settings.embedding_model.strip()
    if index_model_id:
        folder = bundle_folder(settings.models_dir, index_model_id)
        try:
            bundle = ServingBundle.open(folder)
        except BundleProblem as exc:
            raise ModelUnavailableError(
                f"索引所用嵌入模型 {index_model_id} 的查询编码包缺失或损坏（{exc}）。" + _FIX_ZH,
                f"The query encoder bundle of the index's model {index_model_id} is missing or damaged "
                f"({exc}). " + _FIX_EN) from exc
        prefixes = (settings.query_prefix, settings.passage_prefix)
        if bundle.embedding_model != name or any(
                p is not None and p != q for p, q in zip(prefixes, (bundle.query_prefix, bundle.passage_prefix))):
            built = f"{bundle.embedding_model} ({bundle.query_prefix!r}, {bundle.passage_prefix!r})"
            now = f"{name} ({prefixes[0]!r}, {prefixes[1]!r})"
            raise ModelUnavailableError(
                f"索引是用嵌入模型 {built} 建立的，与当前设置 {now} 不符。请恢复 ASSISTANT_EMBEDDING_MODEL"
                "（及前缀）设置，或用新设置重新运行 `assistant ingest`。",
                f"The index was built with the embedding model {built}, but the settings say {now}. Restore "
                "ASSISTANT_EMBEDDING_MODEL (and the prefixes), or run `assistant ingest` again with the new ones.")
        return bundle
    candidates = []
    for folder in sorted((settings.models_dir / "onnx").glob("[!.]*")):  # not a bundle being written
        try:
            candidates.append(ServingBundle.open(folder))
        except BundleProblem:
            continue
    matching = [b for b in candidates if b.embedding_model == name]
    if not matching:
        raise ModelUnavailableError(f"找不到嵌入模型 {name} 的查询编码包（{settings.models_dir / 'onnx'}）。"
                                    + _FIX_ZH, f"No query encoder bundle for the embedding model {name} in "
                                    f"{settings.models_dir / 'onnx'}. " + _FIX_EN)
    newest = max(matching, key=lambda b: b.folder.stat().st_mtime_ns)
    log.warning("the index records no embedding model yet: answering with %s", newest.model_id)
    return newest
