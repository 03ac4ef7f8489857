"""Features of a question and its fused candidates, for the learned ranker and the learned gate.

Everything here is evidence the retriever already has — scores and ranks on both lists, concept
coverage, agreement on places, years, document kind and card/closing intents, and the two facts
about language that used to be hard rules (a question for a date needs a date next to its subject;
a place or year it names must appear). Computed once per question, for the top ``n`` candidates:

    candidate_features(...) → X[n, len(CANDIDATE_FEATURES)]      (the ranker's input)
    question_features(static, X, logits) → x[len(GATE_FEATURES)]  (the gate's input, from the
                                                                    candidates in ranker order)

The gate's features are a function of the candidate matrix and the ranker's scores (plus a few
properties of the question alone, ``static``), so training can refit the ranker and recompute the
gate's input without running retrieval again.
"""

from __future__ import annotations

import re
import statistics

import numpy as np

from assistant.index.search_index import Snapshot
from assistant.retrieval.analysis import QuestionAnalysis
from assistant.retrieval.fusion import Concepts
from assistant.retrieval.gate import answer_type_missing, unanchored
from assistant.schema import ScoredChunk
from assistant.text import detect_language

__all__ = ["CANDIDATE_FEATURES", "GATE_FEATURES", "STATIC_FEATURES", "candidate_features",
           "question_features", "static_features"]

CANDIDATE_FEATURES = (
    "fused_rel",        # fused score ÷ the first's
    "fused_rank_inv",   # 1 / rank in the fused list
    "dense_found",      # the vector list saw it
    "dense_score",      # cosine (the list's last when unseen)
    "dense_rank_inv",
    "dense_vs_median",  # cosine − the list's median: e5 cosines bunch, what counts is standing out
    "dense_vs_top",     # cosine − the list's best
    "lex_rel",          # BM25 ÷ the list's best
    "lex_rank_inv",
    "coverage",         # idf-weighted share of the question's concepts in the section
    "place_match",      # a named place (1) or its cluster (0.5) is in the text
    "place_miss",       # places named, none here
    "year_match",
    "year_miss",
    "anchor_miss",      # share of named places and years absent from the section, title and issuer
    "reply",            # a section of a numbered reply
    "structured",       # a section of a government document, not free text
    "card",
    "closing",
    "card_hit",         # a question about the reply itself, and this is its card
    "closing_hit",      # a question about how the reply ends, and this is its closing
    "fact_held",        # an asked-for fact (date, amount …) stands next to the subject
    "fact_missing",     # one is asked for and none stands here
    "fact_anywhere",    # an asked-for fact stands here (the answering document), in a sentence naming any of the subject
    "kind_agree",       # the question names 建议/提案 and the reply is one (+1) or the other (−1)
    "focus",            # weight of the conversation's document (follow-ups)
)
STATIC_FEATURES = ("unknown_share", "english", "asks_fact")
# Only evidence of the sources against the question, never how the question is put: features that say
# only that a question asks for a fact, names a place, is English or a follow-up describe how a question
# set was written, not whether the index answers it. With them the model learned "asks for a fact →
# unanswerable" from the tunable sets' 35 unanswerable questions (all fact questions in two of the
# three sets), and with one set left out refused 21% of its answerable questions (held out:
# replies-dev, 13 unanswerable questions: 62% refused); with evidence alone, 3.7% (54%). Whether the
# fact stands next to the subject is word overlap, which a paraphrase lacks: it counts only as far as
# the question's words are in the sources at all (fact_missing_covered = fact missing × coverage);
# the checks still refuse when no fact of the kind is there at all.
GATE_FEATURES = (
    "rank_top", "rank_gap", "rank_top3_mean",
    "top_dense_vs_median", "top_dense_score", "top_dense_rank_inv", "top_lex_rank_inv",
    "coverage_top3", "card_ok", "fact_missing_covered", "fact_absent", "anchor_miss", "nothing_matches", "fused_ratio",
    "unknown_share",
    # The same evidence weighs differently by the question's language, which one linear model cannot
    # express without these: a Chinese question's answer is usually the vector list's first (the
    # fusion re-scores by sentence meaning), an English one's is found by the dictionary's keywords
    # while its cosines with Chinese text stay low. Cross-validated: answerable refused 11.1% → 8.5%
    # at the same unanswerable refused (without them, the English questions were refused 29%).
    "top_dense_rank_inv_zh", "top_dense_vs_median_zh", "top_lex_rank_inv_en", "coverage_top3_en",
)
_COL = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}
# "Nothing matches": under this idf share of the question's concepts in the first three sections and
# this dense margin of the first, no section speaks of the question at all ("What is the pension rate
# in Shanghai?" over one reply on Guizhou). The tunable sets hold no such question (none of their
# unanswerable ones covers less than 0.2), so the model cannot learn it: the gate checks it.
NOTHING_COVERAGE = 0.1
NOTHING_MARGIN = 0.025
_ZH_KIND = (("人大代表建议", re.compile(r"建议|人大|代表")), ("政协提案", re.compile(r"提案|政协|委员")))
_EN_KIND = (("人大代表建议", re.compile(r"\bsuggestion|\bdeput", re.IGNORECASE)),
            ("政协提案", re.compile(r"\bproposal|\bcppcc|\bmember", re.IGNORECASE)))


def candidate_features(snap: Snapshot, analysis: QuestionAnalysis, concepts: Concepts,
                       fused: list[ScoredChunk], dense: list[tuple[str, float]],
                       focus: dict[str, float]) -> np.ndarray:
    """One row of :data:`CANDIDATE_FEATURES` per candidate of ``fused`` (the caller's top n);
    ``concepts`` are the ones the fact check weighs (:func:`~assistant.retrieval.gate.known_concepts`)."""
    X = np.zeros((len(fused), len(CANDIDATE_FEATURES)))
    if not fused:
        return X
    d_scores = [s for _, s in dense]
    d_top = d_scores[0] if d_scores else 0.0
    d_median = statistics.median(d_scores) if d_scores else 0.0
    d_floor = d_scores[-1] if d_scores else 0.0
    lex_top = max((sc.lexical_score or 0.0 for sc in fused), default=0.0) or 1.0
    kind_named = _kinds_named(analysis.text)
    cluster = {p for group in analysis.place_groups for p in group} - set(analysis.places)
    places = (*analysis.places, *analysis.other_places)
    refusing = analysis.refusing_facts
    # The card's and closing's dates, numbers and phones are the reply's own: they answer a question
    # about the reply ("哪天答复的", "联系电话"), never "那个中心什么时候开工" about what the reply discusses.
    about_reply = analysis.card_intent or analysis.closing_intent
    # …and only the document that answers (the first candidate's) can state it: a 2023 report's date
    # does not say when the reply's measure starts, nor its percentages how the reply splits a tax.
    answering = fused[0].chunk.doc_id
    for i, sc in enumerate(fused):
        c, row = sc.chunk, X[i]
        dense_score = sc.dense_score if sc.dense_score is not None else d_floor
        place = 1.0 if any(p in c.text for p in places) else 0.5 if any(p in c.text for p in cluster) else 0.0
        year = float(any(y in c.index_text or y in c.doc_title for y in analysis.years))
        anchors = len(places) + len(analysis.years)
        anywhere = (refusing and c.doc_id == answering and (about_reply or c.kind not in ("card", "closing"))
                    and not answer_type_missing(refusing, [c.text], concepts, [c.doc_title], share=0.0))
        held = anywhere and not answer_type_missing(refusing, [c.text], concepts, [c.doc_title])
        row[:] = (
            sc.score / (fused[0].score or 1.0), 1.0 / (i + 1),
            float(sc.dense_rank is not None), dense_score, 1.0 / sc.dense_rank if sc.dense_rank else 0.0,
            dense_score - d_median, dense_score - d_top,
            (sc.lexical_score or 0.0) / lex_top, 1.0 / sc.lexical_rank if sc.lexical_rank else 0.0,
            sc.coverage,
            place, float(bool(places) and not place), year, float(bool(analysis.years) and not year),
            len(unanchored(analysis, [sc])) / anchors if anchors else 0.0,
            float(bool(c.suggestion_no)), float(c.kind != "intro" or c.doc_id in snap.structured_docs),
            float(c.kind == "card"), float(c.kind == "closing"),
            float(analysis.card_intent and c.kind == "card"), float(analysis.closing_intent and c.kind == "closing"),
            float(bool(held)), float(bool(refusing) and not held), float(bool(anywhere)),
            (1.0 if c.doc_kind in kind_named else -1.0) if kind_named and c.doc_kind else 0.0,
            focus.get(c.doc_id, 0.0),
        )
    return X


def static_features(snap: Snapshot, analysis: QuestionAnalysis, concepts: Concepts) -> np.ndarray:
    """The question's own properties (:data:`STATIC_FEATURES`): the share of its concept weight in
    words no document uses, whether it is English, and whether it asks for a kind of fact."""
    total = sum(w for _, w in concepts) or 1.0
    unknown = sum(w for g, w in concepts if not any(t in snap.keyword.vocab for t in g)) / total
    return np.array([unknown, float(detect_language(analysis.text) == "en"), float(bool(analysis.refusing_facts))])


def question_features(static: np.ndarray, X: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """:data:`GATE_FEATURES` from the candidates ``X`` ordered best first by the ranker's
    ``logits`` (same order); an empty list gives the features of nothing found."""
    unknown = static[STATIC_FEATURES.index("unknown_share")]
    if not len(X):
        return np.array([-10.0, 0.0, -10.0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0, 1.0, 1.0, unknown, 0, 0, 0, 0])
    col = _COL
    top = X[0]
    top2, top3 = X[:2], X[:3]
    card_ok = float(top2[:, col["card_hit"]].any() or top2[:, col["closing_hit"]].any())
    asks = not card_ok and static[STATIC_FEATURES.index("asks_fact")] > 0
    fact_missing = float(asks and not top3[:, col["fact_held"]].any())
    fact_absent = float(asks and not top3[:, col["fact_anywhere"]].any())
    second = X[1, col["fused_rel"]] if len(X) > 1 else 0.0
    coverage = float(top3[:, col["coverage"]].max())
    # A follow-up on the conversation's document is about something: its words need not be the text's.
    nothing = float(coverage < NOTHING_COVERAGE and top[col["dense_vs_median"]] < NOTHING_MARGIN and not card_ok
                    and top[col["focus"]] < 1.0)
    en = static[STATIC_FEATURES.index("english")]
    return np.array([
        logits[0], logits[0] - (logits[1] if len(logits) > 1 else -10.0), float(np.mean(logits[:3])),
        top[col["dense_vs_median"]], top[col["dense_score"]], top[col["dense_rank_inv"]],
        top[col["lex_rank_inv"]], coverage, card_ok, fact_missing * coverage, fact_absent,
        float(top3[:, col["anchor_miss"]].min()), nothing, top[col["fused_rel"]] / (second or 1e-3) if second else 10.0,
        unknown,
        (1 - en) * top[col["dense_rank_inv"]], (1 - en) * top[col["dense_vs_median"]],
        en * top[col["lex_rank_inv"]], en * coverage,
    ])


def _kinds_named(question: str) -> set[str]:
    """The kinds of reply (人大代表建议, 政协提案) the question names, if exactly one."""
    patterns = _EN_KIND if question.isascii() else _ZH_KIND
    named = {kind for kind, pattern in patterns if pattern.search(question)}
    return named if len(named) == 1 else set()
