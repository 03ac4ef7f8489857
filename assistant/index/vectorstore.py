"""The vector side of the index: a Chroma collection, embedded or on a Chroma server.

We always pass our own embeddings (Chroma's default embedding function would try to download a
model), and store the display text and flat metadata too, so that other LangChain code can read the
same collection through ``langchain_chroma.Chroma`` with our embedder.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from urllib.parse import urlparse

import numpy as np

from assistant.errors import ServiceUnavailable
from assistant.schema import Chunk
from assistant.settings import Settings

log = logging.getLogger(__name__)


class VectorStoreUnavailable(ServiceUnavailable):
    """The Chroma server cannot be reached (or the embedded store cannot be opened): a service that is
    unavailable, reported as such by every surface without being wrapped again."""


def _chroma_client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class _SharedExclusiveLock:
    """Many holders of :meth:`shared` at once, or one of :meth:`exclusive` (which waits for the
    shared ones to finish and keeps new ones out). Not re-entrant for the exclusive side."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self):
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if not self._shared:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self):
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True  # new shared holders wait from now on
            while self._shared:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class ChromaVectorStore:
    """Thin wrapper around one Chroma collection with explicit embeddings and cosine distance."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None
        self._collection = None
        # Calls run side by side (queries from several requests at once); reopen() waits for them
        # and keeps new ones out, so a query never meets a closing client.
        self._calls = _SharedExclusiveLock()
        self._open_lock = threading.Lock()

    def reopen(self) -> None:
        """Read an embedded store afresh from disk. Another process (``assistant ingest``) may have
        written to it, and an open embedded client keeps serving the index it loaded. A Chroma
        server needs nothing: every process sees its writes."""
        if self.settings.chroma_url:
            return
        with self._calls.exclusive():
            client, self._client, self._collection = self._client, None, None
            if client is not None:
                try:
                    client.close()  # the last client of a path stops its in-process system
                except Exception:  # the next call opens a new one either way
                    log.debug("closing the embedded Chroma client failed", exc_info=True)

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

    @property
    def collection(self):
        collection = self._collection
        if collection is not None:
            return collection
        with self._open_lock:
            return self._open()

    def _open(self):
        if self._collection is None:
            try:
                self._client = _chroma_client(self.settings)
                self._collection = self._client.get_or_create_collection(
                    self.settings.collection,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            except Exception as exc:  # connection refused, bad URL, locked store …
                self._client = self._collection = None
                raise VectorStoreUnavailable(
                    f"向量库无法连接：{self.location}（{exc.__class__.__name__}）/ "
                    f"the vector store at {self.location} is unavailable: {exc}"
                ) from exc
        return self._collection

    def _call(self, fn, *args, **kwargs):
        """Run a collection call; a dropped connection is reported as unavailable and retried next time."""
        try:
            with self._calls.shared():
                return fn(*args, **kwargs)
        except VectorStoreUnavailable:
            raise
        except Exception as exc:
            if self.settings.chroma_url and _is_connection_error(exc):
                self._collection = None
                raise VectorStoreUnavailable(
                    f"向量库服务器不可用：{self.location} / the Chroma server at {self.location} "
                    f"is not reachable ({exc.__class__.__name__})"
                ) from exc
            raise

    def ping(self) -> bool:
        try:
            self._call(lambda: self.collection.count())
            return True
        except Exception:
            return False

    def count(self) -> int:
        return self._call(lambda: self.collection.count())

    def ids(self) -> set[str]:
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._call(lambda: self.collection.get(include=[], limit=page, offset=offset))
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def metadatas(self) -> dict[str, dict]:
        """Every record's metadata by id (paged, like :meth:`ids`)."""
        out: dict[str, dict] = {}
        offset, page = 0, 5000
        while True:
            got = self._call(lambda o=offset: self.collection.get(include=["metadatas"], limit=page, offset=o))
            out.update(zip(got["ids"], got["metadatas"], strict=True))
            if len(got["ids"]) < page:
                return out
            offset += page

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, batch: int = 1000) -> None:
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._call(
                lambda p=part, v=vectors[i : i + batch]: self.collection.upsert(
                    ids=[c.chunk_id for c in p],
                    embeddings=np.asarray(v, dtype=np.float32),
                    documents=[c.text for c in p],
                    metadatas=[c.metadata() for c in p],
                )
            )

    def update_metadata(self, chunks: Sequence[Chunk], batch: int = 1000) -> None:
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._call(lambda p=part: self.collection.update(
                ids=[c.chunk_id for c in p], metadatas=[c.metadata() for c in p]))

    def delete(self, ids: Sequence[str], batch: int = 1000) -> None:
        ids = list(ids)
        for i in range(0, len(ids), batch):
            self._call(lambda p=ids[i : i + batch]: self.collection.delete(ids=p))

    def query(
        self, vector: np.ndarray, k: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk_id, cosine similarity), best first.

        ``k`` must not exceed the number of indexed chunks (the caller knows it from the registry).
        """
        if k <= 0:
            return []
        res = self._call(
            lambda: self.collection.query(
                query_embeddings=np.asarray(vector, dtype=np.float32)[None, :],
                n_results=k,
                where=where,
                include=["distances"],
            )
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]


def _is_connection_error(exc: BaseException) -> bool:
    names = {"ConnectError", "ConnectionError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"}
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in names or isinstance(seen, ConnectionError):
            return True
        if "Could not connect" in str(seen) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
