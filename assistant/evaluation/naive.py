"""The common recipe, for comparison: what the LangChain tutorials and Langchain-Chatchat do by default.

    documents → RecursiveCharacterTextSplitter(500, overlap 50, Chinese separators)
              → the same e5 model (``Embedder.as_langchain()``) → langchain_chroma.Chroma.add_texts
    question  → Chroma.similarity_search(raw question, k)            (no rewriting, no refusal)

It runs on the very documents our index holds — loaded with ``assistant.reading.loaders`` exactly as
``Ingestor`` loads them — so any difference in the scores comes from chunking and retrieval, not
from the text. The collection lives in its own folder inside the evaluation data directory and is
rebuilt only when its inputs change (a marker file keeps the hash of every chunk and the model).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evaluation.metrics import normalize_for_match

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

#: Langchain-Chatchat's defaults (``CHUNK_SIZE``/``OVERLAP_SIZE``) and its Chinese separators.
CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", " ", ""]
COLLECTION = "naive-baseline"
_MARKER = "naive-index.json"
_ADD_BATCH = 256


@dataclass
class NaiveChunk:
    """One piece of the splitter's output, with where it came from."""

    chunk_id: str
    doc_id: str
    doc_title: str
    order: int
    text: str

    def metadata(self) -> dict:
        return {"doc_id": self.doc_id, "doc_title": self.doc_title, "order": self.order}


def load_texts(paths: Iterable[Path], skipped: list[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(doc id, title, text) of every document under ``paths``, read as ``Ingestor`` reads them.

    A file that cannot be read is skipped (and named in ``skipped``), as the ingest skips it: one
    bad file never stops the rest, and the ingest of our own index reports why.
    """
    from assistant.reading.loaders import LoadError, iter_files, iter_jsonl, load_file

    skipped = skipped if skipped is not None else []
    for file in iter_files([Path(p) for p in paths if Path(p).exists()]):
        try:
            if file.name.lower().endswith((".jsonl", ".jsonl.gz")):
                items = [item for item in iter_jsonl(file) if not isinstance(item, LoadError)]
            else:
                items = load_file(file)
        except Exception as exc:  # noqa: BLE001 — a loader error or bug: same policy as the ingest
            skipped.append(f"{file}: {exc}")
            continue
        for raw in items:
            yield raw.doc_id, raw.title or _first_line(raw.text), raw.text


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:80]


def split_documents(docs: Iterable[tuple[str, str, str]]) -> list[NaiveChunk]:
    """Split each document with the recipe's splitter; a document id seen twice is kept once."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=SEPARATORS
    )
    chunks: list[NaiveChunk] = []
    seen: set[str] = set()
    for doc_id, title, text in docs:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        for order, piece in enumerate(splitter.split_text(text)):
            chunks.append(NaiveChunk(f"{doc_id}#{order}", doc_id, title, order, piece))
    return chunks


def fingerprint(chunks: Iterable[NaiveChunk], model_id: str) -> str:
    """Hash of the recipe's parameters, the model and every chunk: equal hashes, equal index."""
    h = hashlib.sha256()
    h.update(json.dumps([CHUNK_SIZE, CHUNK_OVERLAP, SEPARATORS, model_id], ensure_ascii=False).encode())
    for c in chunks:
        h.update(c.chunk_id.encode("utf-8"))
        h.update(b"\x00")
        h.update(c.text.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def recipe_embeddings(embedder) -> Embeddings:
    """The recipe's own embedding call on the same model: sentence-transformers' ``encode`` with its
    defaults (fp32, batch 32), as LangChain's ``HuggingFaceEmbeddings`` does — none of our speed-ups
    (bf16, windows, the embedding cache). For speed comparisons; vectors agree with ours."""
    from langchain_core.embeddings import Embeddings as _Embeddings

    class RecipeEmbeddings(_Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.model.encode([embedder.passage_prefix + t for t in texts],
                                         normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.model.encode([embedder.query_prefix + text], normalize_embeddings=True)[0].tolist()

    return RecipeEmbeddings()


class NaiveBaseline:
    """The naive recipe's Chroma collection in ``directory``, built once per set of inputs."""

    def __init__(self, directory: Path, embeddings, model_id: str):
        """``embeddings`` is a LangChain ``Embeddings`` (``Embedder.as_langchain()``), which adds the
        e5 ``query: ``/``passage: `` prefixes itself."""
        self.directory = Path(directory)
        self.embeddings = embeddings
        self.model_id = model_id
        self.chunks: list[NaiveChunk] = []
        self._normalized: list[str] | None = None
        self._store = None

    @property
    def store(self):
        if self._store is None:
            import chromadb
            from langchain_chroma import Chroma

            self.directory.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self.directory), settings=chromadb.Settings(anonymized_telemetry=False)
            )
            self._store = Chroma(collection_name=COLLECTION, embedding_function=self.embeddings, client=client)
        return self._store

    def build(self, paths: Iterable[Path], progress: Callable[[int, int], None] | None = None) -> dict:
        """Load, split and (unless the marker says it is already there) embed and add every chunk.

        ``progress(done, total)`` is called after each batch. Returns what happened, for the report.
        """
        started = time.perf_counter()
        skipped: list[str] = []
        self.chunks = split_documents(load_texts(paths, skipped))
        self._normalized = None
        digest = fingerprint(self.chunks, self.model_id)
        marker = self.directory / _MARKER
        store = self.store
        reused = False
        if marker.exists():
            try:
                saved = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                saved = {}
            reused = saved.get("hash") == digest and store._collection.count() == len(self.chunks)
        if not reused:
            marker.unlink(missing_ok=True)
            store.reset_collection()
            total = len(self.chunks)
            for start in range(0, total, _ADD_BATCH):
                batch = self.chunks[start : start + _ADD_BATCH]
                store.add_texts([c.text for c in batch], metadatas=[c.metadata() for c in batch],
                                ids=[c.chunk_id for c in batch])
                if progress:
                    progress(min(start + _ADD_BATCH, total), total)
            marker.write_text(json.dumps({"hash": digest, "chunks": total, "model": self.model_id}),
                              encoding="utf-8")
        return {
            "documents": len({c.doc_id for c in self.chunks}),
            "chunks": len(self.chunks),
            "reused": reused,
            "skipped_files": skipped,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def search(self, question: str, k: int) -> list[tuple[NaiveChunk, float]]:
        """The recipe's retrieval: ``similarity_search`` on the raw question (with its distances)."""
        found = self.store.similarity_search_with_score(question, k=k)
        out: list[tuple[NaiveChunk, float]] = []
        for doc, distance in found:
            meta = doc.metadata or {}
            out.append((NaiveChunk(doc.id or f"{meta.get('doc_id', '')}#{meta.get('order', 0)}",
                                   str(meta.get("doc_id", "")), str(meta.get("doc_title", "")),
                                   int(meta.get("order", 0)), doc.page_content), float(distance)))
        return out

    def normalized_texts(self) -> list[str]:
        """Every chunk's text in matching form (for nDCG's count of relevant chunks)."""
        if self._normalized is None:
            self._normalized = [normalize_for_match(c.text) for c in self.chunks]
        return self._normalized
