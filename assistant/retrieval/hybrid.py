"""Hybrid retrieval: keywords + vectors, fused by reciprocal rank, with filters, boosts and a gate.

    question ─ analyse (once: terms, concepts, places, years, intents, asked-for facts) ─┐
      ┌──────────────────────────────────────────────────────────────────────────────────┘
      ├─ query terms ─→ BM25 (jieba tokens, glossary for English) ─┐
      └─ e5 "query: " vector ─→ Chroma (cosine)                    ─┴→ RRF → boosts
        → the first 20 re-scored by their best sentence's cosine (sentence vectors) → dedupe
        → features of the top n → learned ranker (re-orders them) → learned gate (P answerable) → top-k

Implicit filters come from the question itself: a suggestion number ("第616号") limits the search to
that reply (and an unknown number is refused outright); place names (惠水) favour sections that
name the place or its town cluster; questions about the proposer, number, session or handling units
favour the reply's document card. The reading is :mod:`~assistant.retrieval.analysis`, the fusion
and boosts :mod:`~assistant.retrieval.fusion` (the candidate generator), the features
:mod:`~assistant.retrieval.features`, the models :mod:`~assistant.retrieval.model` and the gate
:mod:`~assistant.retrieval.gate`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.embedding import Embedder
from assistant.index.document_query import DocumentQuery
from assistant.index.search_index import SearchIndex, Snapshot
from assistant.index.sentence_vectors import SentenceVectors
from assistant.language.lexicon import Lexicon
from assistant.reading.numbers import suggestion_numbers
from assistant.retrieval.analysis import QuestionAnalysis, analyse
from assistant.retrieval.features import candidate_features, question_features, static_features
from assistant.retrieval.fusion import Concepts, fuse, term_shares, weigh_concepts
from assistant.retrieval.gate import decide, known_concepts
from assistant.retrieval.model import shipped_models
from assistant.retrieval.references import named_documents
from assistant.schema import ScoredChunk
from assistant.settings import Settings


@dataclass
class Retrieval:
    """What the retriever found, and whether it is relevant enough to answer from."""

    query: str
    results: list[ScoredChunk]
    relevant: bool
    analysis: QuestionAnalysis  # what the question asks, read once
    reason: str = ""  # why it refused: "empty_index" | "unknown_number" | "no_document" | "no_match"
    evidence: dict = field(default_factory=dict)
    concepts: Concepts = field(default_factory=list)  # the question's concepts, idf-weighted
    # For a term that is part of a longer term of its concept, its idf as a share of the concept's
    # weight: a sentence that says 规划 covers "planning commission" (规划委员会) only for 规划's share.
    term_shares: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None  # the question's e5 vector, for scoring sentences by meaning
    sentences: SentenceVectors | None = None  # the snapshot's sentence vectors


class HybridRetriever:
    """Keyword + vector retrieval over the index, with fusion, filters, boosts and a gate."""

    def __init__(self, settings: Settings, index: SearchIndex, embedder: Embedder, lexicon: Lexicon):
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.lexicon = lexicon
        self.ranker, self.gate_model = shipped_models()  # a missing or stale model file fails here
        # Called with (question, candidates, their features, the question's own features) on each
        # ranked question: how `python -m assistant.evaluation.train` collects its data through the app's own path.
        self.observer: Callable[[str, list[ScoredChunk], np.ndarray, np.ndarray], None] | None = None

    def retrieve(self, question: str, filters: dict | None = None, k: int | None = None,
                 history: list[dict] | None = None, own: str = "") -> Retrieval:
        """Rank sections for ``question``; ``history`` (earlier turns) points at the documents a
        follow-up is about, so that "在哪次会上提的？" stays on the reply the conversation is about.

        ``own`` is what the user typed when ``question`` is a rewritten follow-up: the words the
        rewrite carried over from earlier turns weigh less than the user's own ("考核那块具体怎么说？
        （保障 机制）" is about 考核 within the 保障机制 part, not about 保障机制)."""
        s = self.settings
        k = k or s.top_k
        timings: dict[str, float] = {}
        snap = self.index.snapshot
        analysis = self.analyse(question, own)
        if not snap.chunks:
            return Retrieval(question, [], False, analysis, "empty_index")

        doc_ids, refused = self._doc_filter(snap, question, filters)
        if refused:
            return Retrieval(question, [], False, analysis, *refused)

        focus = self.focus(snap, history, doc_ids) if history else {}
        # A deputy named in the question ("凌毅代表的……") points at their suggestions' replies.
        for name, named_docs in snap.by_proposer.items():
            if name in question:
                focus.update({d: 1.0 for d in named_docs if not doc_ids or d in doc_ids})
        fused, dense, concepts, vector = self._rank(snap, analysis, doc_ids, focus, timings)
        t = time.perf_counter()
        top = fused[:s.rerank_n]
        X = candidate_features(snap, analysis, known_concepts(snap, concepts), top, dense, focus)
        static = static_features(snap, analysis, concepts)
        if self.observer is not None:
            self.observer(question, top, X, static)
        logits = self.ranker.logits(X) if len(top) else np.zeros(0)
        order = np.argsort(-logits, kind="stable") if s.rerank else np.arange(len(top))
        ranked = [top[i] for i in order] + fused[s.rerank_n:]
        relevant, evidence = decide(self.gate_model, question_features(static, X[order], logits[order]),
                                    s.gate_threshold)
        timings["gate"] = _ms(t)
        return Retrieval(
            query=question,
            results=ranked[:k],
            relevant=relevant,
            analysis=analysis,
            reason="" if relevant else "no_match",
            evidence=evidence,
            concepts=concepts,
            term_shares=term_shares(snap, concepts),
            timings_ms=timings,
            query_vector=vector,
            sentences=snap.sentences,
        )

    def analyse(self, question: str, own: str = "") -> QuestionAnalysis:
        """What ``question`` asks (see :func:`~assistant.retrieval.analysis.analyse`)."""
        return analyse(question, self.lexicon, own)

    def concepts(self, snap: Snapshot, analysis: QuestionAnalysis) -> Concepts:
        """The question's concepts with idf weights over ``snap`` (see :func:`weigh_concepts`)."""
        return weigh_concepts(snap, analysis, self.settings.unknown_term_weight)

    # ---- steps ---------------------------------------------------------------------------------
    def _doc_filter(self, snap: Snapshot, question: str, filters: dict | None
                    ) -> tuple[list[str] | None, tuple[str, dict] | None]:
        """Explicit filters (all must hold), then a suggestion number named in the question.

        Returns (doc ids or None for all, None) or (None, (reason, evidence)) when the filters leave
        no document: they are refused, never dropped to search everything."""
        filters = filters or {}
        query = DocumentQuery.of(issuer=filters.get("issuer"), kind=filters.get("kind"),
                                 year=filters.get("year"), number=filters.get("suggestion_no"))
        doc_ids: list[str] | None = list(filters.get("doc_ids") or []) or None
        if query:
            allowed = set(doc_ids) if doc_ids else None
            doc_ids = [d for d, rec in snap.documents.items()
                       if query.matches(rec) and (allowed is None or d in allowed)]
            if not doc_ids:
                if query == DocumentQuery(number=query.number) and not snap.by_number.get(query.number):
                    return None, ("unknown_number", {"number": query.number})  # as if the question named it
                return None, ("no_document", {"filters": query})
        for named in suggestion_numbers(question):
            found = snap.by_number.get(named)
            if not found:
                return None, ("unknown_number", {"number": named})
            doc_ids = [d for d in (doc_ids or found) if d in found] or found
        return doc_ids, None

    def _rank(self, snap: Snapshot, analysis: QuestionAnalysis, doc_ids: list[str] | None,
              focus: dict[str, float], timings: dict[str, float]
              ) -> tuple[list[ScoredChunk], list[tuple[str, float]], Concepts, np.ndarray]:
        """Candidates from both lists (and, on a follow-up, from the conversation's documents
        alone), fused and boosted. Returns the fused ranking, the dense list, the concepts and the
        question's vector (the answer scores sentences by meaning with it)."""
        s = self.settings
        t = time.perf_counter()
        vector = self.embedder.embed_query(analysis.text)
        timings["embed"] = _ms(t)
        t = time.perf_counter()
        dense = self.index.dense(snap, vector, s.candidate_k, doc_ids)
        timings["dense"] = _ms(t)
        t = time.perf_counter()
        terms = list(analysis.terms)
        lexical = self.index.lexical(snap, terms, s.candidate_k, doc_ids)
        timings["lexical"] = _ms(t)
        lists = [("dense", s.dense_weight, dense), ("lexical", s.lexical_weight, lexical)]
        if focus:  # the conversation's documents compete on their own lists too
            t = time.perf_counter()
            focused = list(focus)
            lists += [("dense", s.dense_weight, self.index.dense(snap, vector, s.candidate_k // 2, focused)),
                      ("lexical", s.lexical_weight, self.index.lexical(snap, terms, s.candidate_k // 2, focused))]
            timings["focus"] = _ms(t)
        t = time.perf_counter()
        concepts = self.concepts(snap, analysis)
        fused = fuse(snap, lists, analysis, concepts, s, focus, vector)
        timings["fuse"] = _ms(t)
        return fused, dense, concepts, vector

    def focus(self, snap: Snapshot, history: list[dict], doc_ids: list[str] | None = None) -> dict[str, float]:
        """The documents the conversation is about, weighted 0..1: those the last turns name (by
        number, title or proposer: :func:`named_documents`), else those that best answer the previous
        question (its vector is usually cached)."""
        recent = [t.get("content") or "" for t in history[-2:]]
        out = dict.fromkeys(named_documents(snap, "\n".join(recent)), 1.0)
        if out:
            return {d: w for d, w in out.items() if not doc_ids or d in doc_ids}
        previous = next((t.get("content") for t in reversed(history)
                         if t.get("role") == "user" and (t.get("content") or "").strip()), "")
        if not previous:
            return {}
        fused, _, _, _ = self._rank(snap, self.analyse(previous), doc_ids, {}, {})
        for rank, sc in enumerate(fused[:3]):
            out.setdefault(sc.chunk.doc_id, 1.0 if rank == 0 else 0.5)
        return out


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
