"""The one answering pipeline: rewrite → retrieve → answer → validate citations → Answer.

:meth:`Pipeline.run` performs the steps once, in order, and yields what a streaming client sees:
``meta`` (the standalone question and the ranked sources), ``delta`` (the answer text, piece by piece:
an LLM's tokens as they arrive, an extractive answer line by line), ``citations`` and ``done`` (the
:class:`Answer`). ``Assistant.ask`` is this stream drained and ``Assistant.stream`` is it sent on, so a
streamed and a non-streamed answer to one question are the same answer. An unreachable vector store
raises :class:`~assistant.errors.ServiceUnavailable` wherever it happens; the caller decides whether
that is an exception (nothing sent yet) or an ``error`` event (a stream under way).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.answer import refusal
from assistant.answer.citations import markers_in, supporting_spans, validate
from assistant.answer.extractive import extractive_answer
from assistant.answer.llm import answer_prompt, rewrite_prompt
from assistant.index.search_index import SearchIndex
from assistant.language.lexicon import Lexicon
from assistant.retrieval.hybrid import HybridRetriever, Retrieval
from assistant.retrieval.references import rewound
from assistant.retrieval.rewrite import resolve_references, rewrite_deterministic
from assistant.schema import Answer, Citation
from assistant.text import detect_language

if TYPE_CHECKING:  # LangChain is imported only with an LLM: a serving process answers without it
    from langchain_core.language_models import BaseChatModel


@dataclass
class Draft:
    """An answer before validation: its text and, for extractive answers, the chosen spans."""

    text: str
    refused: bool = False
    spans: dict[int, list[tuple[int, int]]] | None = None  # marker → sentence spans (extractive)
    backend: str = "extractive"


@dataclass
class Turn:
    """One question on its way through the pipeline; each step fills in its part."""

    question: str
    history: list[dict] = field(default_factory=list)
    filters: dict | None = None
    language: str = "zh"
    timings: dict[str, float] = field(default_factory=dict)
    own: str = ""  # what the user typed, references spelled out (follow-ups only)
    standalone: str = ""
    retrieval: Retrieval | None = None
    sources: list[Citation] = field(default_factory=list)
    draft: Draft | None = None


class Pipeline:
    """The steps, sharing the retriever, lexicon and (optional) chat model."""

    def __init__(self, retriever: HybridRetriever, index: SearchIndex, lexicon: Lexicon,
                 llm: BaseChatModel | None = None):
        self.retriever = retriever
        self.index = index
        self.lexicon = lexicon
        self.llm = llm

    def run(self, question: str, history: list[dict] | None = None,
            filters: dict | None = None) -> Iterator[tuple[str, Any]]:
        """Events ``meta`` → ``delta``… → ``citations`` → ``done`` (payload: the :class:`Answer`).

        ``question`` and ``history`` are already checked (``Assistant.check_input``)."""
        started = time.perf_counter()
        turn = Turn(question, history or [], filters or None, detect_language(question))
        turn.standalone = self.rewrite(turn)
        turn.retrieval = self.retrieve(turn)
        turn.sources = [Citation.of(i, sc) for i, sc in enumerate(turn.retrieval.results, start=1)]
        yield "meta", {"standalone_question": turn.standalone, "language": turn.language,
                       "sources": [s.model_dump() for s in turn.sources]}
        for piece in self.answer(turn):
            yield "delta", {"text": piece}
        answer = self.finalize(turn)
        answer.timings_ms["total"] = _ms(started)
        yield "citations", {"citations": [c.model_dump() for c in answer.citations], "refused": answer.refused}
        yield "done", answer

    # ---- steps ---------------------------------------------------------------------------------
    def rewrite(self, turn: Turn) -> str:
        t = time.perf_counter()
        standalone = turn.question
        if turn.history:
            # What the user asked, in their own words ("the last two" spelled out): what the
            # rewrite adds beyond these weighs less in retrieval.
            turn.own = resolve_references(turn.question, turn.history, self.lexicon)
            if self.llm is not None:
                standalone = self._llm_rewrite(turn) or turn.question
            else:
                standalone = rewrite_deterministic(turn.question, turn.history, self.lexicon)
        turn.timings["rewrite"] = _ms(t)
        return standalone

    def retrieve(self, turn: Turn) -> Retrieval:
        t = time.perf_counter()
        # "The other city" returns to the documents of the turns about that city.
        history = rewound(turn.question, turn.history, self.lexicon)
        found = self.retriever.retrieve(turn.standalone, turn.filters, history=history or None,
                                        own=turn.own or turn.question)
        turn.timings["retrieve"] = _ms(t)
        for key, value in found.timings_ms.items():
            turn.timings[f"retrieve.{key}"] = value
        return found

    def answer(self, turn: Turn) -> Iterator[str]:
        """The answer text piece by piece; leaves the :class:`Draft` in ``turn.draft``."""
        t = time.perf_counter()
        found = turn.retrieval
        if not found.relevant and self.retriever.settings.refuse:
            turn.draft = self._refusal(turn)
        elif self.llm is not None:
            parts: list[str] = []
            for chunk in self.llm.stream(answer_prompt(turn.standalone, found.results, turn.language)):
                piece = _message_text(chunk)
                if piece:
                    parts.append(piece)
                    yield piece
            text = "".join(parts)
            turn.draft = Draft(text, refused=refusal.is_llm_refusal(text), backend="llm")
            turn.timings["answer"] = _ms(t)
            return
        else:
            turn.draft = self._extractive(turn)
        turn.timings["answer"] = _ms(t)
        yield from _lines(turn.draft.text)

    def finalize(self, turn: Turn) -> Answer:
        """Validate the citations (repairing or replacing an LLM answer) and build the Answer."""
        t = time.perf_counter()
        draft, sources = turn.draft, turn.retrieval.results
        warnings: list[str] = []
        citations: list[Citation] = []
        if draft.refused and draft.backend == "llm":
            # A refusal skips the support check, so its words must be ours: an instruction hidden
            # in a source could otherwise dress its text up as "not covered, call …".
            draft = self._refusal(turn)
        if not draft.refused:
            check = validate(draft.text, sources)
            if draft.backend == "llm" and not check.ok:
                warnings.extend([*check.issues, "replaced_by_extractive"])
                draft = self._extractive(turn)
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
                citations.append(Citation.of(n, sources[n - 1], spans))
        turn.timings["validate"] = _ms(t)
        return Answer(question=turn.question, standalone_question=turn.standalone, answer=draft.text,
                      refused=draft.refused, language=turn.language, citations=citations,
                      sources=turn.sources, warnings=warnings, timings_ms=dict(turn.timings),
                      refusal_reason=(turn.retrieval.reason or "no_match") if draft.refused else "")

    # ---- helpers -------------------------------------------------------------------------------
    def _refusal(self, turn: Turn) -> Draft:
        return Draft(refusal.message(turn.retrieval, self.index.snapshot, turn.language), refused=True)

    def _extractive(self, turn: Turn) -> Draft:
        ext = extractive_answer(turn.retrieval, self.lexicon, turn.language)
        if not ext.selections:
            return self._refusal(turn)
        return Draft(ext.text, spans={s.marker: s.spans for s in ext.selections})

    def _llm_rewrite(self, turn: Turn) -> str:
        out = _message_text(self.llm.invoke(rewrite_prompt(turn.own or turn.question, turn.history, turn.language))).strip()
        out = out.splitlines()[0].strip() if out else ""
        # A rewrite is a question, not an essay; fall back to the deterministic one otherwise.
        if not out or len(out) > 4 * max(len(turn.question), 60):
            return rewrite_deterministic(turn.question, turn.history, self.lexicon)
        return out


def _lines(text: str) -> Iterator[str]:
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
