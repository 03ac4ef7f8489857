"""The relevance gate: is what retrieval found relevant enough to answer from, or is it a refusal?

Four rules, each with its evidence:

- **coverage** — the top sections contain enough of the question's (idf-weighted) concepts, or the
  vector side stands out: e5 cosines bunch between 0.7 and 0.9 whatever the question, so the dense
  evidence is relative — how far the best hit stands above the median of the candidate list;
- **the reply itself** — a question about the proposer, number or closing is answered by the
  reply's card or closing, whatever the words' overlap;
- **anchors** — a place or a year the question names must appear in what would answer it (the
  section or its document's title): "2026年的增长目标" is not answered by 2025's report;
- **the asked-for fact** — a question for a date, an amount, a contact … is answered only by a
  section that states one next to the question's subject (``asked_facts.tsv``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from assistant.index.search_index import Snapshot
from assistant.retrieval.analysis import FactKind, QuestionAnalysis
from assistant.retrieval.fusion import Concepts
from assistant.schema import ScoredChunk
from assistant.settings import Settings
from assistant.text import split_sentences

__all__ = ["FACT_SUBJECT_SHARE", "answer_type_missing", "gate", "known_concepts", "unanchored"]

#: Share of the question's subject (by weight) that the sentence holding an asked-for fact must name.
FACT_SUBJECT_SHARE = 0.5
_YEAR_TOKEN = re.compile(r"\d+年?")  # a question's year or number as a token: not its subject
_PLACE_SUFFIX = re.compile(r"(?<=..)(?:省|市|县|区|州|自治区|自治州)$")


def gate(fused: list[ScoredChunk], dense: list[tuple[str, float]], analysis: QuestionAnalysis,
         concepts: Concepts, settings: Settings) -> tuple[bool, dict]:
    """(relevant, evidence) for the fused ranking and the dense candidate list; ``concepts`` are
    the ones the fact check weighs (:func:`known_concepts`)."""
    if not fused:
        return False, {}
    coverage = max(sc.coverage for sc in fused[:3])
    scores = [sc for _, sc in dense]
    margin = (scores[0] - statistics.median(scores)) if len(scores) >= 3 else 0.0
    dense_top = scores[0] if scores else 0.0
    card = (analysis.card_intent and any(sc.chunk.kind == "card" for sc in fused[:2])) or (
        analysis.closing_intent and any(sc.chunk.kind == "closing" for sc in fused[:2]))
    top = fused[0]
    agree = (top.dense_rank or 99) <= 3 and (top.lexical_rank or 99) <= 3
    # The fact must be in a section the answer would come from, next to the question's subject.
    answering = [sc.chunk for sc in fused[:3]]
    missing = "" if card else answer_type_missing(
        analysis.facts, [c.text for c in answering], concepts, [c.doc_title for c in answering])
    lost = unanchored(analysis, fused[:3])
    evidence = {"coverage": round(coverage, 3), "dense_top": round(dense_top, 4),
                "dense_margin": round(margin, 4), "card": card, "agree": agree, "missing": missing,
                "unanchored": lost}
    s = settings
    relevant = not missing and not lost and (
        card
        or coverage >= s.gate_coverage
        or margin >= s.gate_margin
        or (agree and coverage >= s.gate_coverage_weak)
    )
    return relevant, evidence


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
                        titles: list[str] | None = None) -> str:
    """The first of the refusing ``kinds`` (:attr:`QuestionAnalysis.facts`) that none of the texts
    holds about the question's subject, else "".

    With ``concepts`` (the question's weighted term groups), the fact must stand in a sentence that,
    with the sentence before it, names at least half (by weight) of the subject — the concepts
    other than the words that ask for the fact ("预算", "比例") and the years (the place and year
    check covers those). A work report's "税收收入增长8%" does not answer "产业转移企业的税收按
    什么比例分成". A fact in the document's title (its year) answers when the text names the
    subject anywhere: "哪一年的报告提出……".
    """
    titles = titles or [""] * len(texts)
    for kind in kinds:
        if not kind.refuses:
            continue
        subject = [(group, w) for group, w in (concepts or ())
                   if w > 0 and not any(kind.is_ask_word(t) or _YEAR_TOKEN.fullmatch(t) for t in group)]
        if not any(_holds_about(kind.holds, text, title, subject) for text, title in zip(texts, titles)):
            return kind.name
    return ""


def _holds_about(holds: re.Pattern, text: str, title: str, subject: Concepts) -> bool:
    if not subject:
        return bool(holds.search(text) or holds.search(title))
    total = sum(w for _, w in subject)

    def named(window: str) -> bool:
        return sum(w for group, w in subject if any(t in window for t in group)) >= FACT_SUBJECT_SHARE * total

    if holds.search(title) and named(title + text):
        return True
    sentences = [text[a:b] for a, b in split_sentences(text)]
    return any(holds.search(sentence) and named(sentences[i - 1] + sentence if i else sentence)
               for i, sentence in enumerate(sentences))
