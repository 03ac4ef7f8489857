"""The extractive answer: the sentences of the top sources that answer the question, cited.

No LLM, instant, and nothing but the sources' own words: one framing line in the question's
language, then, grouped under each reply's title and number, the chosen sentences in document and
section order, each item ending with its ``[n]`` marker (n = the source's rank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.lexicon import Lexicon
from assistant.schema import ScoredChunk
from assistant.text import split_sentences

MAX_SOURCES = 4  # cited sources at most
MAX_SENTENCES_PER_SOURCE = 3
MAX_SENTENCES = 7
RELATIVE_SOURCE_SCORE = 0.55  # a source is cited when its fused score is this share of the best

# Which line of a document card answers which kind of question.
_CARD_FIELDS = [
    (re.compile(r"谁提|提出|提案者|提案人|代表是谁|哪位代表|什么人|who|proposer|deputy", re.I), ("代表提案者", "提案者", "代表")),
    (re.compile(r"编号|多少号|几号|number", re.I), ("建议提案编号", "编号")),
    (re.compile(r"主办|会办|承办|协办|单位|办理|负责|答复|handl|department|office|unit|responsible|in charge", re.I),
     ("主办单位", "会办单位")),
    (re.compile(r"届次|会议|哪届|session|meeting", re.I), ("会议届次",)),
    (re.compile(r"标题|题目|什么建议|title|about what|what .*suggestion", re.I), ("建议提案标题", "复文标题")),
]


@dataclass
class Selection:
    """Sentences chosen from one source."""

    marker: int
    source: ScoredChunk
    spans: list[tuple[int, int]] = field(default_factory=list)  # offsets in source.chunk.text


@dataclass
class ExtractiveAnswer:
    text: str
    selections: list[Selection]


FRAMING = {
    "zh": "根据答复，与您的问题相关的内容如下：",
    "en": "The replies say the following on this question:",
}


def select_sentences(question: str, sources: list[ScoredChunk], lexicon: Lexicon,
                     places: list[str]) -> list[Selection]:
    """Choose the sources to cite and, in each, the sentences that answer the question."""
    if not sources:
        return []
    terms = set(lexicon.query_terms(question))
    best = sources[0].score
    selections: list[Selection] = []
    for rank, sc in enumerate(sources, start=1):
        if len(selections) >= MAX_SOURCES:
            break
        if rank > 1 and sc.score < RELATIVE_SOURCE_SCORE * best:
            continue
        spans = _best_spans(question, sc, terms, places, lexicon, must=(rank == 1))
        if spans:
            selections.append(Selection(rank, sc, spans))
    # Keep the answer short: trim the lowest-ranked sources' sentences first.
    total = sum(len(s.spans) for s in selections)
    while total > MAX_SENTENCES and len(selections[-1].spans) > 1:
        for sel in reversed(selections):
            if len(sel.spans) > 1 and total > MAX_SENTENCES:
                sel.spans.pop()
                total -= 1
    return selections


def _best_spans(question: str, sc: ScoredChunk, terms: set[str], places: list[str],
                lexicon: Lexicon, must: bool) -> list[tuple[int, int]]:
    text = sc.chunk.text
    spans = [(a, b) for a, b in split_sentences(text) if text[a:b].strip()]
    if not spans:
        return []
    if sc.chunk.kind == "card":
        picked = _card_lines(question, text, spans)
        if picked or not must:
            return picked
    scored = []
    for a, b in spans:
        sentence = text[a:b]
        tokens = set(lexicon.tokenize(sentence))
        overlap = len(terms & tokens)
        score = overlap + sum(1.5 for p in places if p in sentence)
        scored.append((score, a, b))
    top = max(s for s, _, _ in scored)
    if top <= 0:
        # Matched on meaning only (e.g. an English question): the section's opening states its point.
        return [spans[0]] if must or sc.dense_rank == 1 else []
    keep = [(s, a, b) for s, a, b in scored if s >= max(1.0, 0.6 * top)]
    keep.sort(key=lambda x: -x[0])
    return sorted((a, b) for _, a, b in keep[:MAX_SENTENCES_PER_SOURCE])


def _card_lines(question: str, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    wanted: list[str] = []
    for pattern, labels in _CARD_FIELDS:
        if pattern.search(question):
            wanted.extend(labels)
    picked = []
    for a, b in spans:
        line = text[a:b].strip()
        if any(line.startswith(label) for label in wanted):
            picked.append((a, b))
    return picked


def render(selections: list[Selection], language: str) -> str:
    """Framing line, then each reply's title and number, then its items in section order."""
    lines = [FRAMING[language]]
    by_doc: dict[str, list[Selection]] = {}
    for sel in selections:
        by_doc.setdefault(sel.source.chunk.doc_id, []).append(sel)
    for doc_sels in by_doc.values():
        chunk = doc_sels[0].source.chunk
        heading = f"《{chunk.doc_title}》"
        if chunk.suggestion_no and chunk.suggestion_no not in chunk.doc_title:
            heading += f"（{chunk.suggestion_no}）"
        lines.append("")
        lines.append(heading)
        for sel in sorted(doc_sels, key=lambda s: s.source.chunk.order):
            body = "".join(sel.source.chunk.text[a:b].strip() for a, b in sel.spans)
            label = sel.source.chunk.section
            prefix = f"{label}：" if label and not body.startswith(label) else ""
            lines.append(f"- {prefix}{body} [{sel.marker}]")
    return "\n".join(lines)


def extractive_answer(question: str, sources: list[ScoredChunk], lexicon: Lexicon,
                      places: list[str], language: str) -> ExtractiveAnswer:
    selections = select_sentences(question, sources, lexicon, places)
    return ExtractiveAnswer(render(selections, language), selections)
