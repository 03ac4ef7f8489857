"""Fusion: the keyword and vector candidate lists merged by weighted reciprocal rank, then boosted
for what the question asks (its concepts, places, years, intents) and for government documents,
then the first candidates re-scored by their best sentence's closeness in meaning to the question.

Every boost is a share of a first place's fused score on one list (``1 / (rrf_k + 1)``), so the
settings read the same whatever ``rrf_k`` is.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from assistant.index.search_index import Snapshot
from assistant.language.wordlists import RESOURCES_DIR, read_words
from assistant.retrieval.analysis import QuestionAnalysis
from assistant.schema import ScoredChunk
from assistant.settings import Settings
from assistant.text import detect_language

__all__ = ["CARRIED_WEIGHT", "GENERIC_WEIGHT", "SENTENCE_CANDIDATES", "Concepts", "coverage", "fuse", "term_shares",
           "weigh_concepts"]

#: Weight of the concepts that frame a question (措施, 第三条) against those that name its subject.
GENERIC_WEIGHT = 0.3
#: Weight of the concepts a follow-up's rewrite carried over from earlier turns (vs the user's own).
CARRIED_WEIGHT = 0.5
#: The first fused candidates re-scored by their best sentence (the ranker's depth: what the rest
#: would gain is never enough to reach the first five, and each costs a sentence lookup).
SENTENCE_CANDIDATES = 20

#: A question's concepts with their weights: (interchangeable terms, idf weight).
Concepts = list[tuple[tuple[str, ...], float]]
#: A candidate list: (kind — "dense" or "lexical", weight, [(chunk id, score)] best first).
Hits = tuple[str, float, list[tuple[str, float]]]


def weigh_concepts(snap: Snapshot, analysis: QuestionAnalysis, unknown_term_weight: float) -> Concepts:
    """The question's concepts with idf weights (English words the glossary turned into Chinese
    are matched as Chinese); framing concepts weigh :data:`GENERIC_WEIGHT` as much, and those a
    follow-up's rewrite carried :data:`CARRIED_WEIGHT` as much."""
    idf_all = snap.keyword.idf_of([t for group in analysis.concepts for t in group])
    out = []
    for group in analysis.concepts:
        known = [t for t in group if t in snap.keyword.vocab]
        # Only terms the index holds weigh, and no alternative more than the word asked (group[0]):
        # a rare synonym the thesaurus added must not make its concept outweigh the others.
        weight = max(idf_all[t] for t in (known or group))
        if group[0] in snap.keyword.vocab:
            weight = min(weight, idf_all[group[0]])
        if group[0].isascii() and group[0] not in snap.keyword.vocab:
            # An English word the glossary does not know and no document uses: it still counts
            # against coverage (the question asks about something), but for less — also when the
            # dictionary gave Chinese for it (a guess at its sense must not outweigh a known word).
            weight *= unknown_term_weight
        if group in analysis.framing:
            weight *= GENERIC_WEIGHT  # "第三条里税收怎么分？": 第三条 points into the conversation
        if group in analysis.carried:
            weight *= CARRIED_WEIGHT
        out.append((group, weight))
    return out


def term_shares(snap: Snapshot, concepts: Concepts) -> dict[str, float]:
    """For a term that is part of a longer term of its concept (规划 of 规划委员会): its idf ÷ the
    concept's largest, so that a sentence that says 规划 covers "planning commission" only for that
    share. Alternatives that are not parts of one another (土地, 用地) count fully."""
    parts = [(t, g) for g, _ in concepts for t in g if any(t != u and t in u for u in g)]
    idf = snap.keyword.idf_of([t for _, g in parts for t in g])
    return {t: min(1.0, idf[t] / (max(idf[u] for u in g) or 1.0)) for t, g in parts}


def coverage(snap: Snapshot, chunk_ids: list[str], concepts: Concepts) -> np.ndarray:
    """Idf-weighted share of the question's concepts that each chunk contains."""
    total = sum(w for _, w in concepts)
    if total <= 0 or not chunk_ids:
        return np.zeros(len(chunk_ids))
    held = snap.keyword.contains([group for group, _ in concepts], chunk_ids)
    return np.asarray([w for _, w in concepts]) @ held / total


def fuse(snap: Snapshot, lists: list[Hits], analysis: QuestionAnalysis, concepts: Concepts,
         settings: Settings, focus: dict[str, float] | None = None,
         vector: np.ndarray | None = None) -> list[ScoredChunk]:
    """Weighted reciprocal-rank fusion of ``(kind, weight, hits)`` lists, plus bonuses for
    covering the question's concepts and places, for government documents' sections, and for
    the documents a follow-up is about (``focus``: doc id → 0..1); with the question's ``vector``,
    the first candidates re-scored by their best sentence (:func:`_by_sentences`). Best first,
    each text once."""
    found = _reciprocal_rank(snap, lists, settings.rrf_k)
    boosts = _Boosts(snap, analysis, settings, focus or {})
    for sc, cov in zip(found.values(), coverage(snap, list(found), concepts)):
        sc.coverage = float(cov)
        boosts.apply(sc)
    ranked = _sorted(found.values())
    if vector is not None and settings.sentence_weight and detect_language(analysis.text) == "zh":
        floor = min((score for kind, _, hits in lists if kind == "dense" for _, score in hits), default=0.0)
        weight = settings.sentence_weight / (settings.rrf_k + 1)  # per unit of cosine, in fused score
        ranked = _sorted(_by_sentences(snap, ranked, vector, floor, weight))
    unique: list[ScoredChunk] = []
    seen: set[bytes] = set()
    for sc in ranked:  # identical text (the same reply ingested twice) is shown once
        key = snap.text_key(sc.chunk)
        if key not in seen:
            seen.add(key)
            unique.append(sc)
    return unique


def _sorted(found) -> list[ScoredChunk]:
    # Equal scores are ordered by document and position, not by which list saw them first: the
    # same question over an index with one more document must not swap two tied sections.
    return sorted(found, key=lambda x: (-round(x.score, 9), x.chunk.doc_id, x.chunk.order))


@functools.cache
def formulaic_sentences() -> re.Pattern[str]:
    """The set phrases of a reply that say nothing of its subject (``formulaic_sentences.txt``)."""
    return re.compile("|".join(f"(?:{p})" for p in read_words(RESOURCES_DIR / "formulaic_sentences.txt")))


def _by_sentences(snap: Snapshot, ranked: list[ScoredChunk], vector: np.ndarray, floor: float,
                  weight: float) -> list[ScoredChunk]:
    """Lower each of the first :data:`SENTENCE_CANDIDATES` by ``weight`` × how far its best
    sentence's cosine with the question falls below the best of them (the rest by the largest such
    gap, so that none overtakes for not being looked at).

    Why: a citizen's paraphrase shares few words with the section that answers it, so the keyword
    list and the coverage bonus put a section that repeats the question's words ahead of it, while
    meaning finds it — and a 400-character section's one answering sentence is closer to the
    question than the whole section's vector (on the 50 everyday-words questions the best sentence
    alone ranks the answering section first as often as the chunk vector, and the two disagree
    where the fusion errs). A section without sentence vectors (news) counts its chunk's cosine,
    or the dense list's last when that list did not find it. Not for English questions: across
    languages the cosines of sentences bunch, and the dictionary's keywords rank those well.

    A reply's set phrases (``formulaic_sentences.txt``: "您提出的《……》收悉", the thanks) are never the
    best sentence: quoting the suggestion's title, they are close to every question on its topic
    (tunable sets, hit@1 of 289 answerable questions: 234 → 237, no set lower).
    """
    head = ranked[:SENTENCE_CANDIDATES]
    formula = formulaic_sentences()
    best = []
    for sc in head:
        cosines = snap.sentences.cosines(sc.chunk, vector)
        if not cosines:
            best.append(sc.dense_score if sc.dense_score is not None else floor)
            continue
        said = [c for (a, b), c in cosines.items() if not formula.search(sc.chunk.text[a:b])]
        best.append(max(said) if said else floor)  # only set phrases: it says nothing about anything
    if not best:
        return ranked
    gaps = max(best) - np.asarray(best)
    for sc, gap in zip(head, gaps):
        sc.score -= weight * float(gap)
    for sc in ranked[SENTENCE_CANDIDATES:]:
        sc.score -= weight * float(gaps.max())
    return ranked


def _reciprocal_rank(snap: Snapshot, lists: list[Hits], rrf_k: int) -> dict[str, ScoredChunk]:
    """Each candidate's weighted sum of ``weight / (rrf_k + rank)``, with its rank and score on
    each kind of list (the first list of a kind that saw it)."""
    found: dict[str, ScoredChunk] = {}
    for kind, weight, hits in lists:
        for rank, (cid, score) in enumerate(hits, start=1):
            sc = found.setdefault(cid, ScoredChunk(snap.chunks[cid], 0.0))
            if kind == "dense" and sc.dense_rank is None:
                sc.dense_score, sc.dense_rank = score, rank
            elif kind == "lexical" and sc.lexical_rank is None:
                sc.lexical_score, sc.lexical_rank = score, rank
            sc.score += weight / (rrf_k + rank)
    return found


class _Boosts:
    """The bonuses a candidate earns for what the question asks, each a share of ``top``."""

    def __init__(self, snap: Snapshot, analysis: QuestionAnalysis, settings: Settings,
                 focus: dict[str, float]):
        self.snap = snap
        self.analysis = analysis
        self.s = settings
        self.focus = focus
        self.top = 1.0 / (settings.rrf_k + 1)  # the fused score of a first place on one list
        # The places a named place goes with (惠水 → 长顺, 广顺) earn half the place boost.
        self.cluster = {p for group in analysis.place_groups for p in group} - set(analysis.places)

    def apply(self, sc: ScoredChunk) -> None:
        """Add the bonuses to ``sc.score`` (its ``coverage`` set), one at a time in a fixed order:
        the sum must not depend on how the terms are grouped."""
        s, top, chunk, q = self.s, self.top, sc.chunk, self.analysis
        if chunk.kind != "intro" or chunk.doc_id in self.snap.structured_docs:
            sc.score += s.structure_boost * top  # a section of a government document, not free text
        if chunk.suggestion_no:
            sc.score += s.reply_boost * top
        if chunk.doc_id in self.focus:
            sc.score += s.focus_boost * top * self.focus[chunk.doc_id]
        if q.closing_intent and chunk.kind == "closing":
            sc.score += s.card_boost * top
        if chunk.kind in ("card", "closing") and not (q.card_intent or q.closing_intent):
            sc.score -= s.card_penalty * top
        sc.score += s.coverage_weight * top * sc.coverage
        if q.places:
            if any(p in chunk.text for p in q.places):
                sc.score += s.place_boost * top
            elif any(p in chunk.text for p in self.cluster):
                sc.score += 0.5 * s.place_boost * top
        if q.years and any(y in chunk.index_text or y in chunk.doc_title for y in q.years):
            sc.score += s.year_boost * top  # "2023年…的目标" is about 2023's report
        if q.card_intent and chunk.kind == "card":
            sc.score += s.card_boost * top
