"""The answering chain as composed LangChain runnables:

    rewrite → retrieve → answer → validate citations → Answer

Each step is a small function over a state dict, wrapped in a ``RunnableLambda`` and chained with
``_assign`` so the state accumulates (``RunnablePassthrough.assign`` would do the same through a
thread pool on every call, which costs more than the steps themselves on a cached question). ``Assistant.ask`` invokes the chain;
``Assistant.stream`` runs the same steps but streams the answer text as it is produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answer import refusal
from assistant.answer.citations import markers_in, supporting_spans, validate
from assistant.answer.extractive import extractive_answer
from assistant.answer.llm import answer_prompt, rewrite_prompt
from assistant.index.search_index import SearchIndex
from assistant.language.lexicon import Lexicon
from assistant.retrieval.hybrid import HybridRetriever, Retrieval
from assistant.retrieval.rewrite import resolve_references, rewrite_deterministic
from assistant.schema import Answer, Citation, ScoredChunk
from assistant.text import detect_language


@dataclass
class Draft:
    """An answer before validation: its text and, for extractive answers, the chosen spans."""

    text: str
    refused: bool = False
    spans: dict[int, list[tuple[int, int]]] | None = None  # marker → sentence spans (extractive)
    backend: str = "extractive"


class AnswerSteps:
    """The chain's steps, sharing the retriever, lexicon and (optional) chat model."""

    def __init__(self, retriever: HybridRetriever, index: SearchIndex, lexicon: Lexicon,
                 llm: BaseChatModel | None = None):
        self.retriever = retriever
        self.index = index
        self.lexicon = lexicon
        self.llm = llm

    # ---- steps ---------------------------------------------------------------------------------
    def rewrite(self, state: dict) -> str:
        t = time.perf_counter()
        question, history = state["question"], state.get("history") or []
        standalone = question
        if history:
            # What the user asked, in their own words ("the last two" spelled out): what the
            # rewrite adds beyond these weighs less in retrieval.
            state["own"] = resolve_references(question, history, self.lexicon)
            if self.llm is not None:
                standalone = self._llm_rewrite(question, history, state["language"]) or question
            else:
                standalone = rewrite_deterministic(question, history, self.lexicon)
        state["timings"]["rewrite"] = _ms(t)
        return standalone

    def retrieve(self, state: dict) -> Retrieval:
        t = time.perf_counter()
        found = self.retriever.retrieve(state["standalone"], state.get("filters"),
                                        history=state.get("history") or None, own=state.get("own") or state["question"])
        state["timings"]["retrieve"] = _ms(t)
        for key, value in found.timings_ms.items():
            state["timings"][f"retrieve.{key}"] = value
        return found

    def answer(self, state: dict) -> Draft:
        t = time.perf_counter()
        try:
            return self._answer(state)
        finally:
            state["timings"]["answer"] = _ms(t)

    def _answer(self, state: dict) -> Draft:
        found: Retrieval = state["retrieval"]
        language = state["language"]
        if not found.relevant and self.retriever.settings.refuse:
            return Draft(refusal.message(found, self.index.snapshot, language), refused=True)
        if self.llm is not None:
            text = _message_text(self.llm.invoke(answer_prompt(state["standalone"], found.results, language)))
            return Draft(text, refused=refusal.is_llm_refusal(text), backend="llm")
        return self._extractive(state)

    def _extractive(self, state: dict) -> Draft:
        found: Retrieval = state["retrieval"]
        ext = extractive_answer(found, self.lexicon, state["language"])
        if not ext.selections:
            return Draft(refusal.message(found, self.index.snapshot, state["language"]), refused=True)
        return Draft(ext.text, spans={s.marker: s.spans for s in ext.selections})

    def finalize(self, state: dict) -> Answer:
        """Validate the citations (repairing or replacing an LLM answer) and build the Answer."""
        t = time.perf_counter()
        draft: Draft = state["draft"]
        found: Retrieval = state["retrieval"]
        sources = found.results
        warnings: list[str] = []
        citations: list[Citation] = []
        if draft.refused and draft.backend == "llm":
            # A refusal skips the support check, so its words must be ours: an instruction hidden
            # in a source could otherwise dress its text up as "not covered, call …".
            draft.text = refusal.message(found, self.index.snapshot, state["language"])
        if not draft.refused:
            check = validate(draft.text, sources)
            if draft.backend == "llm" and not check.ok:
                warnings.extend(check.issues)
                warnings.append("replaced_by_extractive")
                draft = self._extractive(state)
                check = validate(draft.text, sources)
            elif check.issues:
                warnings.extend(check.issues)
            draft.text = check.text
            # Every marker left in the text gets its citation, also one on a line that is not a
            # claim (a quoted framing sentence ending in "：" is not checked, but it is shown).
            cited = [] if draft.refused else list(dict.fromkeys(markers_in(check.text)))
            for n in cited:
                spans = (draft.spans or {}).get(n) or check.support.get(n) or supporting_spans(
                    draft.text, sources[n - 1].chunk.text)
                citations.append(_citation(n, sources[n - 1], spans))
        state["timings"]["validate"] = _ms(t)
        return Answer(
            question=state["question"],
            standalone_question=state["standalone"],
            answer=draft.text,
            refused=draft.refused,
            language=state["language"],
            citations=citations,
            sources=[_citation(i, sc, []) for i, sc in enumerate(sources, start=1)],
            warnings=warnings,
            timings_ms=dict(state["timings"]),
        )

    # ---- composition ---------------------------------------------------------------------------
    def chain(self) -> Runnable:
        return (
            _assign("standalone", self.rewrite)
            | _assign("retrieval", self.retrieve)
            | _assign("draft", self.answer)
            | RunnableLambda(self.finalize)
        )

    def stream_answer(self, state: dict) -> Iterator[str]:
        """The answer text piece by piece; sets state["draft"] when done."""
        found: Retrieval = state["retrieval"]
        relevant = found.relevant or not self.retriever.settings.refuse
        if self.llm is not None and relevant:
            t = time.perf_counter()
            parts: list[str] = []
            for chunk in self.llm.stream(answer_prompt(state["standalone"], found.results, state["language"])):
                piece = _message_text(chunk)
                if piece:
                    parts.append(piece)
                    yield piece
            text = "".join(parts)
            state["draft"] = Draft(text, refused=refusal.is_llm_refusal(text), backend="llm")
            state["timings"]["answer"] = _ms(t)
            return
        draft = self.answer(state)
        state["draft"] = draft
        yield from _pieces(draft.text)

    # ---- helpers -------------------------------------------------------------------------------
    def _llm_rewrite(self, question: str, history: list[dict], language: str) -> str:
        out = _message_text(self.llm.invoke(rewrite_prompt(question, history, language))).strip()
        out = out.splitlines()[0].strip() if out else ""
        # A rewrite is a question, not an essay; fall back to the deterministic one otherwise.
        if not out or len(out) > 4 * max(len(question), 60):
            return rewrite_deterministic(question, history, self.lexicon)
        return out


def _citation(marker: int, sc: ScoredChunk, spans: list[tuple[int, int]]) -> Citation:
    c = sc.chunk
    return Citation(marker=marker, chunk_id=c.chunk_id, doc_id=c.doc_id, doc_title=c.doc_title,
                    suggestion_no=c.suggestion_no, section=c.section, text=c.text,
                    score=round(sc.score, 6), start=c.start, end=c.end, highlights=list(spans))


def _pieces(text: str) -> Iterator[str]:
    """Stream an already-known text line by line (keeps markers whole)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        yield line + ("\n" if i < len(lines) - 1 else "")


def _message_text(message) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def new_state(question: str, history: list[dict] | None, filters: dict | None) -> dict:
    return {"question": question, "history": history or [], "filters": filters or None,
            "language": detect_language(question), "timings": {}}


def _assign(key: str, step: Callable[[dict], Any]) -> Runnable:
    """A runnable that adds ``step(state)`` to the state under ``key`` (a named LCEL step)."""
    def run(state: dict) -> dict:
        return {**state, key: step(state)}

    return RunnableLambda(run, name=getattr(step, "__name__", key))
