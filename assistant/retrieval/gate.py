"""The relevance gate: is what retrieval found relevant enough to answer from, or is it a refusal?

The decision is a learned, calibrated model (:mod:`~assistant.retrieval.model`, fitted by
``python -m assistant.evaluation.train``): P(answerable from these sources) from the question's features
(:func:`~assistant.retrieval.features.question_features`) — the ranker's confidence in its first
candidates, how far the best cosine stands above the list's median, concept coverage, whether the
card answers a question about the reply itself — refused below a threshold chosen on held-out folds.

Two facts about language stay checks — they refuse whatever the probability (as features the model
could not learn them from the few unanswerable questions there are; see ``python -m assistant.evaluation.train``'s
figures) — computed here for the features:

- **anchors** — a place or a year the question names must appear in what would answer it (the
  section or its document's title): "2026年的增长目标" is not answered by 2025's report;
- **the asked-for fact** — a question for a date, an amount, a contact … is answered only by a
  section of the answering document (the first candidate's) that states one in a sentence naming
  something of the question's subject (``asked_facts.tsv``); the reply's own card and closing (its
  date, number, phone) count only for a question about the reply. Whether the fact stands next to
  most of the subject is a feature the model weighs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.index.search_index import Snapshot
from assistant.retrieval.analysis import FactKind, QuestionAnalysis
from assistant.retrieval.fusion import Concepts
from assistant.retrieval.model import LinearModel
from assistant.schema import ScoredChunk
from assistant.text import split_sentences

__all__ = ["ANSWERS", "CHECKS", "FACT_SUBJECT_SHARE", "answer_type_missing", "decide", "known_concepts", "unanchored"]

#: Share of the question's subject (by weight) that the sentence holding an asked-for fact must name.
FACT_SUBJECT_SHARE = 0.5
_YEAR_TOKEN = re.compile(r"\d+年?")  # a question's year or number as a token: not its subject
_PLACE_SUFFIX = re.compile(r"(?<=..)(?:省|市|县|区|州|自治区|自治州)$")
#: The gate features that refuse whatever the probability (> 0), with the reason given: no fact of the
#: asked-for kind in the first sections at all, a named place or year absent. Whether the fact stands
#: next to the question's subject is neither checked nor weighed: it is word overlap, which a
#: paraphrase lacks — as a check it refused 20% of the everyday-words questions, and as a feature of
#: the model it taught it to refuse other authors' fact questions (see GATE_FEATURES).
CHECKS = {"fact_absent": "fact_missing", "anchor_miss": "unanchored", "nothing_matches": "nothing_matches"}
#: The gate feature that answers whatever the probability, once the checks pass: a question about the
#: reply itself (its proposer, number, units, contact) with the reply's card or closing in the first
#: two. The model cannot learn it from 22 header questions (it weighed it negatively).
ANSWERS = "card_ok"


def decide(model: LinearModel, x: np.ndarray, threshold: float | None = None) -> tuple[bool, dict]:
    """(relevant, evidence) for the question features ``x``: refused by a check (an asked-for fact
    or a named place/year absent from the first sections), else relevant when the model's
    probability reaches ``threshold`` (the model's own, chosen on held-out folds, when None). The
    evidence holds the probability, the check that refused and the features that moved it most."""
    p = float(model.probability(x)[0])
    limit = model.threshold if threshold is None else threshold
    values = dict(zip(model.features, np.asarray(x, float)))
    check = next((reason for name, reason in CHECKS.items() if values.get(name, 0) > 0), "")
    evidence = {"p_answerable": round(p, 4), "threshold": round(limit, 4), "check": check,
                "features": model.contributions(x)}
    return not check and (p >= limit or values.get(ANSWERS, 0) > 0), evidence


def known_concepts(snap: Snapshot, concepts: Concepts) -> Concepts:
    """The concepts the fact check weighs: those in words the index knows. An English word the
    glossary does not translate ("much", "money") is not looked for in Chinese sentences."""
    return [(g, w) for g, w in concepts
            if any(t in snap.keyword.vocab and not (t.isascii() and t.isalpha()) for t in g)]


def unanchored(analysis: QuestionAnalysis, top: list[ScoredChunk]) -> list[str]:
    """Places (or their town cluster) and years the question names that none of ``top`` mentions
    (in its text, heading path, document title or the office that issued it: a reply titled only
    "对…第219号建议的答复" is still 宁波市交通运输局's)."""
    texts = [sc.chunk.index_text + sc.chunk.doc_title + sc.chunk.issuer for sc in top]
    anchors = [dict.fromkeys((p, *group)) for p, group in zip(analysis.places, analysis.place_groups)]
    # Places elsewhere (北京市 → 北京市 or 北京): "北京市的专项债券额度" needs a text about Beijing.
    anchors += [dict.fromkeys((p, _PLACE_SUFFIX.sub("", p) or p)) for p in analysis.other_places]
    anchors += [{y: None} for y in analysis.years]
    return [min(forms, key=len) for forms in anchors
            if not any(form in text for form in forms for text in texts)]


def answer_type_missing(kinds: Sequence[FactKind], texts: list[str], concepts: Concepts | None = None,
                        titles: list[str] | None = None, share: float = FACT_SUBJECT_SHARE) -> str:
    """The first of the refusing ``kinds`` (:attr:`QuestionAnalysis.facts`) that none of the texts
    holds about the question's subject, else "".

    With ``concepts`` (the question's weighted term groups), the fact must stand in a sentence that,
    with the sentence before it, names at least half (by weight) of the subject — the concepts
    other than the words that ask for the fact ("预算", "比例") and the years (the place and year
    check covers those). A work report's "税收收入增长8%" does not answer "产业转移企业的税收按
    什么比例分成". A fact in the document's title (its year) answers when the text names the
    subject anywhere: "哪一年的报告提出……".

    ``share`` is the part of the subject (by weight) the sentence must name; 0 asks only that it
    names some of it — the gate's check: a paraphrase keeps a word or two of the question, while a
    reply that never gives the fee states its other sums about other things.
    """
    titles = titles or [""] * len(texts)
    for kind in kinds:
        if not kind.refuses:
            continue
        subject = [(group, w) for group, w in (concepts or ())
                   if w > 0 and not any(kind.is_ask_word(t) or _YEAR_TOKEN.fullmatch(t) for t in group)]
        if not any(_holds_about(kind.holds, text, title, subject, share) for text, title in zip(texts, titles)):
            return kind.name
    return ""


def _holds_about(holds: re.Pattern, text: str, title: str, subject: Concepts, share: float) -> bool:
    if not subject:
        return bool(holds.search(text) or holds.search(title))
    total = sum(w for _, w in subject)

    def named(window: str) -> bool:
        covered = sum(w for group, w in subject if any(t in window for t in group))
        return covered > 0 and covered >= share * total

    if holds.search(title) and named(title + text):
        return True
    sentences = [text[a:b] for a, b in split_sentences(text)]
    return any(holds.search(sentence) and named(sentences[i - 1] + sentence if i else sentence)
               for i, sentence in enumerate(sentences))
