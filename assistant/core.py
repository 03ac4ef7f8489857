"""``Assistant``: the one object every surface (CLI, page, API, widget, evaluation) calls."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from assistant.answer.llm import make_chat_model
from assistant.answer.pipeline import AnswerSteps, _citation, new_state
from assistant.embedding import Embedder
from assistant.history import HistoryPolicy
from assistant.index.ingest import Ingestor, IngestReport
from assistant.index.registry import Registry
from assistant.index.search_index import SearchIndex
from assistant.index.vectorstore import ChromaVectorStore, VectorStoreUnavailable
from assistant.language.lexicon import Lexicon
from assistant.retrieval.hybrid import HybridRetriever, LangChainRetriever
from assistant.schema import Answer, Citation
from assistant.settings import Settings

log = logging.getLogger(__name__)

# Controls, invisible format characters and lone surrogates (valid in JSON escapes and JS strings,
# but not text: the tokenizer rejects them and the answer could not be encoded as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]")


class QuestionError(ValueError):
    """The question (or its history) cannot be answered as given; ``message`` says why, politely."""

    def __init__(self, message: str, code: str = "invalid_question", limit: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.limit = limit


UNAVAILABLE_MESSAGE = ("检索服务暂时不可用（向量库无法连接），请稍后再试。/ "
                       "The search service is temporarily unavailable (the vector store cannot be reached); "
                       "please try again shortly.")


class ServiceUnavailable(RuntimeError):
    """A dependency (the index, the Chroma server) is not available right now.

    ``message`` is safe to show to anyone; ``detail`` (addresses, exception text) goes to the log only.
    """

    def __init__(self, detail: str, message: str = UNAVAILABLE_MESSAGE):
        super().__init__(detail)
        self.message = message
        self.detail = detail
        log.warning("service unavailable: %s", detail)


class Assistant:
    def __init__(self, settings: Settings, embedder: Embedder, lexicon: Lexicon | None = None,
                 llm: BaseChatModel | None = None):
        self.settings = settings
        self.embedder = embedder
        self.lexicon = lexicon or Lexicon.default()
        self.registry = Registry(settings.registry_path)
        self.vectors = ChromaVectorStore(settings)
        self.index = SearchIndex(settings, self.registry, self.vectors)
        self.retriever = HybridRetriever(settings, self.index, embedder, self.lexicon)
        self.steps = AnswerSteps(self.retriever, self.index, self.lexicon, llm)
        self._chain = self.steps.chain()
        stored = self.registry.get_meta("lexicon")
        if stored and stored != self.lexicon.fingerprint:
            log.warning("the index was tokenised with other dictionaries (%s, now %s): keyword search "
                        "misses new words until `assistant ingest` re-tokenises it", stored, self.lexicon.fingerprint)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, llm: BaseChatModel | None = None) -> Assistant:
        settings = settings or Settings()
        return cls(settings, Embedder.from_settings(settings), Lexicon.default(),
                   llm if llm is not None else make_chat_model(settings))

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (jieba and its tagger, the query
        encoder, the vector store) by answering one question. Failures are left to real questions."""
        try:
            self.ask("惠水的土地政策有哪些？")
        except Exception as exc:  # noqa: BLE001 - e.g. the Chroma server is down: /readyz reports it
            log.warning("warm-up question failed (%s): %s", type(exc).__name__, exc)

    # ---- answering -----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, filters: dict | None = None) -> Answer:
        question, history = self.check_input(question, history)
        started = time.perf_counter()
        state = new_state(question, history, filters)
        try:
            answer: Answer = self._chain.invoke(state)
        except VectorStoreUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        answer.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def stream(self, question: str, history: list[dict] | None = None,
               filters: dict | None = None) -> Iterator[tuple[str, dict]]:
        """Events: meta → delta… → citations → done (or error). Input errors and an unreachable
        vector store raise (QuestionError, ServiceUnavailable) before the first event."""
        question, history = self.check_input(question, history)
        started = time.perf_counter()
        state = new_state(question, history, filters)
        steps = self.steps
        try:
            state["standalone"] = steps.rewrite(state)
            state["retrieval"] = steps.retrieve(state)
        except VectorStoreUnavailable as exc:
            # Nothing sent yet: raised like ask() does, so the HTTP API can still answer 503.
            raise ServiceUnavailable(str(exc)) from exc
        sources = [_citation(i, sc, []).model_dump() for i, sc in enumerate(state["retrieval"].results, 1)]
        yield "meta", {"standalone_question": state["standalone"], "language": state["language"],
                       "sources": sources}
        try:
            for piece in steps.stream_answer(state):
                yield "delta", {"text": piece}
            answer = steps.finalize(state)
        except VectorStoreUnavailable as exc:
            yield "error", {"message": ServiceUnavailable(str(exc)).message, "code": "unavailable"}
            return
        answer.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 2)
        yield "citations", {"citations": [c.model_dump() for c in answer.citations], "refused": answer.refused}
        yield "done", answer.model_dump()

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
        try:
            found = self.retriever.retrieve(query, filters, k=k)
        except VectorStoreUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return [_citation(i, sc, []) for i, sc in enumerate(found.results, start=1)]

    def as_retriever(self, filters: dict | None = None) -> LangChainRetriever:
        return LangChainRetriever(hybrid=self.retriever, filters=filters)

    def documents(self) -> list[dict]:
        return [d.as_dict() for d in self.index.snapshot.documents.values()]

    def document(self, doc_id: str) -> dict | None:
        snap = self.index.snapshot
        record = snap.documents.get(doc_id)
        if record is None:
            return None
        chunks = sorted((c for c in snap.chunks.values() if c.doc_id == doc_id), key=lambda c: c.order)
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
        report = Ingestor(self.settings, self.embedder, self.registry, self.vectors, self.lexicon).run(
            paths, prune=prune, progress=progress)
        self.index.reload()
        return report
