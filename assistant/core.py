"""``Assistant``: the one object every surface (CLI, page, API, widget, evaluation) calls."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answer.llm import make_chat_model
from assistant.answer.pipeline import Pipeline
from assistant.embedding import Embedder, QueryEmbedder
from assistant.errors import QuestionError, ServiceUnavailable
from assistant.history import HistoryPolicy
from assistant.index.document_query import DocumentQuery
from assistant.index.ingest import Ingestor, IngestReport
from assistant.index.registry import Registry
from assistant.index.search_index import SearchIndex
from assistant.index.vectorstore import ChromaVectorStore
from assistant.language.lexicon import Lexicon
from assistant.retrieval.hybrid import HybridRetriever
from assistant.schema import Answer, Citation
from assistant.settings import Settings

if TYPE_CHECKING:  # LangChain is imported where it is used: a serving process answers without it
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from assistant.retrieval.langchain import LangChainRetriever

log = logging.getLogger(__name__)

# Controls, invisible format characters and lone surrogates (valid in JSON escapes and JS strings,
# but not text: the tokenizer rejects them and the answer could not be encoded as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]")


class Assistant:
    """Answers questions from the indexed replies, and keeps the index: what every surface calls.

    >>> assistant = Assistant.from_settings()                            # doctest: +SKIP
    >>> assistant.ingest([Path("corpus")])                               # doctest: +SKIP
    >>> answer = assistant.ask("惠水的土地政策有哪些？")                   # doctest: +SKIP
    >>> answer.answer, [(c.doc_title, c.section) for c in answer.citations]  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, embedder: Embedder, lexicon: Lexicon | None = None,
                 llm: BaseChatModel | None = None):
        self.settings = settings
        self.embedder = embedder
        self.lexicon = lexicon or Lexicon.default()
        self.registry = Registry(settings.registry_path)
        self.vectors = ChromaVectorStore(settings)
        self.index = SearchIndex(settings, self.registry, self.vectors)
        self.retriever = HybridRetriever(settings, self.index, embedder, self.lexicon)
        self.pipeline = Pipeline(self.retriever, self.index, self.lexicon, llm)
        stored = self.registry.get_meta("lexicon")
        if stored and stored != self.lexicon.fingerprint:
            log.warning("the index was tokenised with other dictionaries (%s, now %s): keyword search "
                        "misses new words until `assistant ingest` re-tokenises it", stored, self.lexicon.fingerprint)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, llm: BaseChatModel | None = None) -> Assistant:
        settings = settings or Settings()
        return cls(settings, Embedder.from_settings(settings), Lexicon.default(),
                   llm if llm is not None else make_chat_model(settings))

    @classmethod
    def for_serving(cls, settings: Settings | None = None, llm: BaseChatModel | None = None) -> Assistant:
        """The Assistant of a process that answers and never ingests: like :meth:`from_settings`, but
        questions are embedded by the torch-free :class:`~assistant.embedding.serving.QueryEmbedder`.

        Contract:

        * never imports torch, transformers or sentence-transformers (nor does anything it loads to
          answer), so a worker starts in seconds and holds a fraction of the memory;
        * answers, citations and refusals are byte-identical to :meth:`from_settings` with the default
          ``query_engine`` ("auto": ONNX queries), as both run the same graph on the same tokens;
        * the embedder is the one of the model the index records (registry meta ``MODEL_META``, set by
          every ``assistant ingest``), read from its serving bundle, which ``assistant models prepare``
          and ``assistant ingest`` write;
        * raises :class:`~assistant.embedding.ModelUnavailableError` (Chinese, then English, naming the
          command to run) when that bundle is missing, torn or stale, when its encoder disagrees with torch
          on the probe texts (cosine < ``MIN_AGREEMENT``), or when ``ASSISTANT_EMBEDDING_MODEL`` (or a
          prefix) differs from the one the index was built with — callers exit non-zero with the message;
        * :meth:`ingest` (an administrator publishing an upload) runs in a spawned child process with the
          torch :class:`Embedder`, so this process never holds torch; :meth:`remove` needs no model.
        """
        from assistant.index.sentence_vectors import MODEL_META

        settings = settings or Settings()
        embedder = QueryEmbedder.for_index(settings, Registry(settings.registry_path).get_meta(MODEL_META))
        return cls(settings, embedder, Lexicon.default(), llm if llm is not None else make_chat_model(settings))

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (jieba and its tagger, the query
        encoder, the vector store) by answering one question — the first example question, which the
        corpus answers, so the whole answering path runs. Failures are left to real questions."""
        examples = self.settings.examples()
        try:
            self.ask(examples[0] if examples else "这份答复提出了哪些措施？")
        except Exception as exc:  # noqa: BLE001 - e.g. the Chroma server is down: /readyz reports it
            log.warning("warm-up question failed (%s): %s", type(exc).__name__, exc)

    # ---- answering -----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, filters: dict | None = None) -> Answer:
        """The cited answer (or a polite refusal): :meth:`stream` drained.

        Raises QuestionError for input that cannot be answered, ServiceUnavailable when the index is
        unreachable."""
        question, history = self.check_input(question, history)
        for name, payload in self.pipeline.run(question, history, filters):
            if name == "done":
                return payload
        raise AssertionError("the pipeline ended without an answer")  # run() always ends with "done"

    def stream(self, question: str, history: list[dict] | None = None,
               filters: dict | None = None) -> Iterator[tuple[str, dict]]:
        """Events: meta → delta… → citations → done (or error). Input errors and an unreachable
        vector store raise (QuestionError, ServiceUnavailable) before the first event."""
        question, history = self.check_input(question, history)
        events = self.pipeline.run(question, history, filters)
        yield next(events)  # rewrite and retrieval: anything raised here is raised to the caller
        try:
            for name, payload in events:
                yield name, payload.model_dump() if name == "done" else payload
        except ServiceUnavailable as exc:  # the stream is under way: tell the client in it
            yield "error", {"message": exc.message, "code": "unavailable"}

    def as_runnable(self) -> Runnable:
        """This assistant as a LangChain runnable: ``{"question", "history"?, "filters"?}`` → Answer."""
        from langchain_core.runnables import RunnableLambda

        def ask(request: dict) -> Answer:
            return self.ask(request["question"], request.get("history"), request.get("filters"))

        return RunnableLambda(ask, name="gov_reply_assistant")

    def check_input(self, question: str, history: list[dict] | None) -> tuple[str, list[dict]]:
        """Clean the question and history, or raise QuestionError with a polite message."""
        s = self.settings
        if not isinstance(question, str):
            raise QuestionError("问题必须是文字。/ The question must be text.")
        if len(question) > s.max_question_chars:
            raise QuestionError(
                f"问题太长了：最多 {s.max_question_chars} 个字符，您输入了 {len(question)} 个。请精简后再问。/ "
                f"The question is too long: at most {s.max_question_chars} characters (got {len(question)}).",
                code="question_too_long", limit=s.max_question_chars)
        cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", question)).strip()
        if not cleaned:
            raise QuestionError("请输入您的问题。/ Please type a question.", code="empty_question")
        if not any(ch.isalnum() for ch in cleaned):
            raise QuestionError(
                "没能看懂这个问题，请用文字描述您想了解的内容。/ "
                "I could not find any words in that question — please describe what you want to know.",
                code="no_text")
        turns: list[dict] = []
        history = history or []
        policy = HistoryPolicy.from_settings(s)
        if len(history) > policy.max_messages:
            raise QuestionError(
                f"对话历史太长：最多 {policy.max_messages} 条，请清空对话后再问。/ "
                f"The conversation history is too long: at most {policy.max_messages} messages.",
                code="history_too_long", limit=policy.max_messages)
        for turn in history:
            if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
                raise QuestionError("对话历史格式不正确。/ The conversation history is malformed.",
                                    code="bad_history")
            content = _CONTROL.sub("", str(turn.get("content") or ""))
            turns.append({"role": turn["role"], "content": content[: policy.max_message_chars]})
        return cleaned, turns

    # ---- browsing ------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, filters: dict | None = None) -> list[Citation]:
        query, _ = self.check_input(query, None)
        found = self.retriever.retrieve(query, filters, k=k)
        return [Citation.of(i, sc) for i, sc in enumerate(found.results, start=1)]

    def as_retriever(self, filters: dict | None = None, k: int | None = None) -> LangChainRetriever:
        """This assistant's retrieval as a LangChain retriever (``k`` documents; None: ``top_k``)."""
        from assistant.retrieval.langchain import LangChainRetriever

        return LangChainRetriever(hybrid=self.retriever, filters=filters, k=k)

    def documents(self, issuer: str | None = None, kind: str | None = None, year: int | None = None,
                  number: str | None = None) -> list[dict]:
        """The indexed documents' header fields, newest first (undated last, then by title), read from
        the registry (always current); the criteria given must all hold (see ``DocumentQuery``)."""
        query = DocumentQuery.of(issuer=issuer, kind=kind, year=year, number=number)
        return [d.as_dict() for d in self.registry.find(query)]

    def document(self, doc_id: str) -> dict | None:
        snap = self.index.snapshot
        record = snap.documents.get(doc_id)
        if record is None:
            return None
        chunks = sorted((snap.chunks[cid] for cid in snap.by_doc.get(doc_id, ())), key=lambda c: c.order)
        return {**record.as_dict(), "sections": [
            {"chunk_id": c.chunk_id, "section": c.section, "kind": c.kind, "text": c.text,
             "start": c.start, "end": c.end} for c in chunks]}

    def readiness(self) -> dict:
        snap = self.index.snapshot
        chroma = self.vectors.ping()
        index_ok = len(snap.chunks) > 0
        checks = {"model": self.embedder is not None, "index": index_ok, "chroma": chroma}
        ready = all(checks.values())
        if ready:
            message = "就绪 / ready"
        elif not index_ok:
            message = "索引为空：请先运行 assistant ingest corpus/ / the index is empty: run `assistant ingest corpus/`"
        else:
            log.warning("not ready: the vector store at %s is unavailable", self.vectors.location)
            message = "向量库不可用 / the vector store is unavailable"
        return {"ready": ready, "checks": checks, "documents": len(snap.documents),
                "chunks": len(snap.chunks), "message": message}

    # ---- ingestion -----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path], prune: bool = False, progress=None) -> IngestReport:
        """Index ``paths`` (incremental, crash-safe). A serving Assistant (:meth:`for_serving`) cannot
        embed passages: it runs the ingest in a spawned child process with the torch Embedder, which
        exits when done, so the serving process never holds torch (~700 MB) for an administrator's
        upload; ``progress`` is not reported from there. The snapshot is reloaded either way."""
        if isinstance(self.embedder, QueryEmbedder):
            report = _ingest_in_child(self.settings, list(paths), prune)
        else:
            report = self._ingestor().run(paths, prune=prune, progress=progress)
        self.index.reload()
        return report

    def remove(self, doc_ids: Iterable[str]) -> int:
        """Take documents out of the index (both sides, crash-safe); returns how many."""
        removed = self._ingestor().remove(doc_ids)
        self.index.reload()
        return removed

    def _ingestor(self) -> Ingestor:
        return Ingestor(self.settings, self.embedder, self.registry, self.vectors, self.lexicon)


def _ingest_in_child(settings: Settings, paths: list[Path], prune: bool) -> IngestReport:
    """``Assistant.ingest`` in a spawned process that loads the torch Embedder and exits when done.
    The ingest's file lock and the index generation make this process's snapshot reload see it."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_ingest_with_torch, settings, paths, prune).result()


def _ingest_with_torch(settings: Settings, paths: list[Path], prune: bool) -> IngestReport:
    return Assistant(settings, Embedder.from_settings(settings)).ingest(paths, prune=prune)
