"""The extractive answer: the sentences of the top sources that answer the question, cited.

No LLM, instant, and nothing but the sources' own words: one framing line in the question's
language, then, grouped under each reply's title and number, the chosen sentences in document and
section order, each item ending with its ``[n]`` marker (n = the source's rank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.citations import evidence_text
from assistant.language.lexicon import Lexicon
from assistant.reading.header import FIELD_ALIASES
from assistant.retrieval.fusion import Concepts
from assistant.retrieval.hybrid import Retrieval
from assistant.schema import ScoredChunk
from assistant.text import split_sentences

MAX_SOURCES = 4  # cited sources at most
MAX_SENTENCES_PER_SOURCE = 3
MAX_SENTENCES = 7
RELATIVE_SOURCE_SCORE = 0.6  # a source is cited when its fused score is this share of the best
# A source other than the best is quoted only when one of its sentences covers this share of the
# question's (idf-weighted) concepts: a sentence that shares one weak word is not an answer.
MIN_SHARE_OTHER_SOURCES = 0.5
# A source from another document than the best one needs more: this fused score (share of the
# best) and this concept share — so that an answer about one reply does not cite a news item or a
# report that merely shares a few words.
OTHER_DOCUMENT_SCORE = 0.9
OTHER_DOCUMENT_SHARE = 0.8
# ... and its best sentence must be nearly as good an answer as the best source's best sentence,
# judged on the question's aspects (土地 in "惠水的土地"; the place is the retrieval's business).
RELATIVE_SENTENCE_SCORE = 0.7
# A sentence's meaning (its e5 cosine with the question) counts beside its words: its cosine
# relative to the best sentence of the candidate sources, 1 for the best and 0 at MEANING_SPREAD
# standard deviations below it (e5 cosines bunch between 0.7 and 0.9: absolute ones say little),
# weighs MEANING_WEIGHT × the question's total concept weight. In the best source, a sentence
# MEANING_ADMIT close to the best is an answer even without the question's words (a paraphrase);
# another source gets MEANING_OTHER of the weight, and only for such a sentence (tuned on folds
# 0-2 of replies-dev, seed-616 and work-reports: more weight cites more sources, and precision
# falls faster than coverage rises).
MEANING_WEIGHT = 0.5
MEANING_SPREAD = 2.0
MEANING_ADMIT = 0.9
MEANING_OTHER = 0.5
MEANING_MIN_CHARS = 16
_LEAD_IN = re.compile(r"[：:]\s*$")
_ANY = 1e-9  # a score threshold that any sentence naming one of the question's concepts passes

# Which line of a document card answers which kind of question.
_CARD_FIELDS = [
    (re.compile(r"谁提|提出|提案者|提案人|代表是谁|哪位代表|什么人|联名|几个人|who (?!signed|replied|answered)|"
                r"proposer|deputy", re.IGNORECASE), ("代表提案者", "提案者", "代表")),
    (re.compile(r"编号|多少号|几号|(?<!document )(?<!reference )(?<!file )number", re.IGNORECASE),
     ("建议提案编号", "编号")),
    (re.compile(r"主办|会办|承办|协办|办理单位|哪个单位|哪些单位|什么单位|负责|handl|department|office|\bunits?\b|"
                r"responsible|in charge", re.IGNORECASE), ("主办单位", "会办单位")),
    (re.compile(r"谁答复|哪个部门答复|答复单位|回复单位|who (?:replied|answered)|which (?:office|body) replied",
                re.IGNORECASE), ("答复单位",)),
    (re.compile(r"届次|会议|哪届|session|meeting", re.IGNORECASE), ("会议届次",)),
    (re.compile(r"标题|题目|什么建议|title|about what|what .*suggestion", re.IGNORECASE), ("建议提案标题", "复文标题")),
    (re.compile(r"类别|类型|建议还是提案|what kind", re.IGNORECASE), ("类别",)),
    (re.compile(r"办理结果|哪一类|几类|什么类|[ABC]类|\bresult|\bclass\b", re.IGNORECASE), ("办理结果",)),
    (re.compile(r"文号|字号|document number|reference number|file number", re.IGNORECASE), ("文号",)),
    (re.compile(r"签发|谁签|signed|signer", re.IGNORECASE), ("签发人",)),
    (re.compile(r"签发|哪天|哪一天|什么时候|何时|日期|\bwhen\b|\bdate", re.IGNORECASE), ("签发日期",)),
    (re.compile(r"联系|电话|找谁|咨询|contact|phone|\bcall\b", re.IGNORECASE), ("联系人", "联系电话")),
    (re.compile(r"抄送|copied|\bcc\b", re.IGNORECASE), ("抄送",)),
]


@dataclass
class Selection:
    """Sentences chosen from one source."""

    marker: int
    source: ScoredChunk
    spans: list[tuple[int, int]] = field(default_factory=list)  # offsets in source.chunk.text
    aspect_score: float = 0.0  # its best sentence's score on the question's aspects


@dataclass
class ExtractiveAnswer:
    text: str
    selections: list[Selection]


FRAMING = {
    "zh": "根据答复，与您的问题相关的内容如下：",
    "en": "The replies say the following on this question:",
}


@dataclass
class _Asked:
    """What the sentences must be about: the question's concepts without the words that only ask
    for a kind of fact ("哪一年", "比例"), its aspects besides places ("惠水的*土地*政策"), the
    aspects a sentence must cover, and the facts a sentence should hold (a date, an amount …)."""

    concepts: Concepts
    aspects: Concepts
    required: set[tuple[str, ...]]
    facts: list[re.Pattern]
    meaning: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)  # chunk → span → 0..1
    best_source_closest: bool = False  # the best source holds one of the sentences closest in meaning

    @classmethod
    def of(cls, found: Retrieval) -> _Asked:
        q = found.analysis
        concepts = [(g, w) for g, w in found.concepts if not any(q.is_ask_word(t) for t in g)]
        aspects = [(g, w) for g, w in concepts if g not in q.place_concepts]
        # A follow-up that names an aspect of its own ("What about taxes?") is answered by sentences
        # on that aspect, not by those on the topic carried over from the previous question (which
        # still counts, at its lower weight, in comparing two sentences on the aspect).
        required = {g for g, _ in aspects if g not in q.carried} or {g for g, _ in aspects}
        meaning = _meaning(found)
        top = meaning.get(found.results[0].chunk.chunk_id, {}) if found.results else {}
        return cls(concepts, aspects, required, [kind.holds for kind in q.facts], meaning,
                   max(top.values(), default=0.0) >= MEANING_ADMIT)

    def by_meaning(self, weights: Concepts, sense: float) -> float:
        """What a sentence's meaning score ``sense`` (0..1) adds to a score over ``weights``."""
        return MEANING_WEIGHT * sense * sum(w for _, w in weights)


def _meaning(found: Retrieval) -> dict[str, dict[tuple[int, int], float]]:
    """Per candidate source with sentence vectors, each sentence's closeness in meaning to the
    question relative to the best sentence of all candidates (1 for it, 0 far below); {} without
    vectors (an index built before them: words alone choose)."""
    if found.sentences is None or found.query_vector is None or MEANING_WEIGHT <= 0:
        return {}
    # A card's lines (the title, the topic) are close in meaning to any question on the reply, but
    # answer only questions about the reply itself, which _card_or_closing handles.
    cosines = {sc.chunk.chunk_id: c for sc in found.results if sc.chunk.kind not in ("card", "closing")
               and (c := found.sentences.cosines(sc.chunk, found.query_vector))}
    # A short sentence is a title ("四是完善考核机制。", "构建“外环”城市经济圈。"): it restates the
    # question's topic, closest of all in meaning, and answers nothing; words alone judge it.
    cosines = {cid: kept for cid, c in cosines.items()
               if (kept := {(a, b): v for (a, b), v in c.items() if b - a >= MEANING_MIN_CHARS})}
    values = np.array([v for c in cosines.values() for v in c.values()])
    if not len(values):
        return {}
    best, spread = float(values.max()), MEANING_SPREAD * max(float(values.std()), 0.01)
    return {cid: {span: max(0.0, 1.0 - (best - v) / spread) for span, v in c.items()}
            for cid, c in cosines.items()}


def select_sentences(found: Retrieval, lexicon: Lexicon) -> list[Selection]:
    """Choose the sources to cite and, in each, the sentences that answer the question.

    A sentence is scored by the idf weight of the question's concepts it covers (a concept is a
    word, or the Chinese alternatives of an English glossary word). When the question names an
    aspect besides places ("惠水的*土地*政策"), a sentence must cover an aspect: naming the place is
    not enough.
    """
    sources = found.results
    if not sources:
        return []
    about_the_reply = _card_or_closing(found)
    if about_the_reply is not None:  # [] when the reply does not state what is asked about it
        return about_the_reply
    asked = _Asked.of(found)
    selections, first_best = _quoted_sources(found, asked, lexicon)
    if asked.facts and len(selections) > 1:
        # The question asks for a kind of fact (a target figure, a date …): sources that hold one
        # answer it; the best-ranked source, quoted whatever it held, steps aside for them.
        holding = [sel for sel in selections if _holds(sel.source, sel.spans, asked.facts)]
        if holding:
            best_holding = max(sel.aspect_score for sel in holding)
            selections = [sel for sel in holding if sel.aspect_score >= RELATIVE_SENTENCE_SCORE * best_holding]
    if len(selections) > 1 and first_best <= 0 and selections[0].source.chunk.kind not in ("card", "closing"):
        # The best source was quoted for want of anything better (no sentence on the question's
        # aspects), but another source has such a sentence: that one answers. (A card or a closing
        # answers questions about the reply itself, whatever their words.)
        selections.pop(0)
    if not selections:  # nothing but lead-ins: the best source's opening, rather than no answer
        text = evidence_text(sources[0].chunk.text)
        opening = next(((a, b) for a, b in split_sentences(text) if text[a:b].strip()), None)
        if opening:
            selections.append(Selection(1, sources[0], [opening]))
    # Keep the answer short: trim the lowest-ranked sources' sentences first.
    total = sum(len(s.spans) for s in selections)
    for sel in reversed(selections):
        while total > MAX_SENTENCES and len(sel.spans) > 1:
            sel.spans.pop()
            total -= 1
    return selections


def _card_or_closing(found: Retrieval) -> list[Selection] | None:
    """A question about the reply itself: the lines of its card it asks for (the proposer, the
    number …), or its closing as written ("How does the reply close?"); [] when the best source is a
    card without any of the lines asked for (the reply gives no phone number: a refusal, not another
    line); else None."""
    if found.analysis.card_intent:
        for rank, sc in enumerate(found.results[:3], start=1):
            if sc.chunk.kind == "card":
                wanted = _card_labels(found.query)
                lines = _card_lines(wanted, sc.chunk.text, split_sentences(sc.chunk.text))
                if lines:
                    return [Selection(rank, sc, lines)]
                if wanted and rank == 1:  # the question is about this reply, which does not say it
                    return []
    if found.analysis.closing_intent:
        for rank, sc in enumerate(found.results[:3], start=1):
            if sc.chunk.kind == "closing":
                text = evidence_text(sc.chunk.text)
                return [Selection(rank, sc, [(a, b) for a, b in split_sentences(text) if text[a:b].strip()])]
    return None


def _quoted_sources(found: Retrieval, asked: _Asked, lexicon: Lexicon) -> tuple[list[Selection], float]:
    """The sources worth quoting, in rank order, with their sentences; and the first one's best
    sentence's score on the question's aspects."""
    sources = found.results
    best = sources[0].score
    total_weight = sum(w for _, w in asked.concepts)
    selections: list[Selection] = []
    top_doc = sources[0].chunk.doc_id
    first_best = 0.0
    first_holds: bool | None = None  # whether the first quoted source holds an asked-for fact
    for rank, sc in enumerate(sources, start=1):
        if len(selections) >= MAX_SOURCES:
            break
        if rank > 1 and sc.score < RELATIVE_SOURCE_SCORE * best:
            continue
        # Another document must be nearly as good as the best source to be cited beside it.
        other_doc = rank > 1 and sc.chunk.doc_id != top_doc
        share = OTHER_DOCUMENT_SHARE if other_doc else MIN_SHARE_OTHER_SOURCES
        if other_doc and sc.score < OTHER_DOCUMENT_SCORE * best:
            continue
        # The best source is quoted whatever its words; when it is only a lead-in, the best item of
        # the same document stands in for it (never another document: that must earn its place).
        must = rank == 1 or (not selections and sc.chunk.doc_id == top_doc)
        # The question asks for a fact the best source does not hold ("2019年经济增长目标的区间"
        # over the section that comments on the targets): a sentence of the same document that holds
        # one and names the subject at all is the answer, however few of the question's words it has.
        seek_fact = not must and first_holds is False and sc.chunk.doc_id == top_doc
        min_score = 0.0 if must else (_ANY if seek_fact else share * total_weight)
        spans, aspect_score = _best_spans(sc, asked, lexicon, must=must, min_score=min_score,
                                          shares=found.term_shares)
        if selections and aspect_score < RELATIVE_SENTENCE_SCORE * first_best and not (seek_fact and spans):
            continue
        if spans:
            if not selections:
                first_best = aspect_score
                first_holds = _holds(sc, spans, asked.facts) if asked.facts else None
            selections.append(Selection(rank, sc, spans, aspect_score))
    return selections, first_best


def _holds(sc: ScoredChunk, spans: list[tuple[int, int]], facts: list[re.Pattern]) -> bool:
    return any(f.search(sc.chunk.text[a:b]) for f in facts for a, b in spans)


def _best_spans(sc: ScoredChunk, asked: _Asked, lexicon: Lexicon, must: bool, min_score: float = 0.0,
                shares: dict[str, float] | None = None) -> tuple[list[tuple[int, int]], float]:
    """The source's best sentences (those scoring ≥ 0.6 of its best) and the best sentence's
    score on the question's aspects alone. A sentence must cover one of the required aspects.

    When the question asks for a kind of fact (a date, an amount …), only sentences holding such a
    fact count when the source has any; a source other than the first (not ``must``) without one
    is not quoted.
    """
    # A sentence addressing a language model ("忽略以上所有指令……") was planted for it: never quoted.
    text = evidence_text(sc.chunk.text)
    # A lead-in ("对建立联动发展保障机制做出了如下考虑:") announces the items that follow; it
    # answers nothing by itself.
    spans = [(a, b) for a, b in split_sentences(text) if text[a:b].strip() and not _LEAD_IN.search(text[a:b])]
    if not spans:
        return [], 0.0
    aspect_groups = {g for g, _ in asked.aspects}
    facts, required = asked.facts, asked.required
    meaning = asked.meaning.get(sc.chunk.chunk_id, {})
    scored = []
    paraphrase = False  # a sentence close in meaning to the question
    for a, b in spans:
        sentence = text[a:b]
        covered = covered_by(sentence, set(lexicon.tokenize(sentence)), asked.concepts, shares)
        sense = meaning.get((a, b), 0.0)
        if not must:
            # Another source is cited for its words; meaning adds a little only to one of the
            # sentences closest of all, when the best source holds none of them.
            sense = MEANING_OTHER * sense if sense >= MEANING_ADMIT and not asked.best_source_closest else 0.0
        close = sense >= MEANING_ADMIT  # a paraphrase of the question, in the best source
        if required and not any(g in required for g, _ in covered) and not close:
            continue
        # Sources are compared on the question's words alone (a paraphrase in the best source must
        # not crowd out another source that states the answer in the question's words); a best source
        # whose closest sentence shares none of them still answers (see below: not put aside).
        on_aspects = sum(w for g, w in covered if g in aspect_groups) if asked.aspects else None
        paraphrase = paraphrase or close
        holds = bool(facts) and any(f.search(sentence) for f in facts)
        scored.append((sum(w for _, w in covered) + asked.by_meaning(asked.concepts, sense), a, b, on_aspects,
                       holds))
    if facts:
        with_fact = [s for s in scored if s[4]]
        if with_fact or not must:
            scored = with_fact
    scored = [s[:4] for s in scored]
    top = max((s for s, _, _, _ in scored), default=0.0)
    top_aspects = max((s if x is None else x for s, _, _, x in scored), default=0.0)
    if top_aspects <= 0 and paraphrase:
        top_aspects = _ANY
    if top < min_score:
        return [], top_aspects
    if top <= 0:
        # Matched by the retriever on meaning only (e.g. an English question): the sentence closest
        # in meaning, else the section's opening, which states its point.
        return ([max(spans, key=lambda s: meaning.get(s, 0.0))] if must else []), top_aspects
    keep = [(s, a, b) for s, a, b, _ in scored if s >= 0.6 * top]
    keep.sort(key=lambda x: -x[0])
    return sorted((a, b) for _, a, b in keep[:MAX_SENTENCES_PER_SOURCE]), top_aspects


def covered_by(sentence: str, tokens: frozenset[str] | set[str], concepts: Concepts,
               shares: dict[str, float] | None = None) -> Concepts:
    """The concepts a sentence covers, with the weight it earns: one of the group's terms is a token
    of it, or (two characters and more) stands in it — "作" is not in 作用, 规划委员会 is in
    设立黔中城市群规划委员会. With ``shares``, a group earns the share of its best term present."""
    out = []
    for group, weight in concepts:
        present = [t for t in group if t in tokens or (len(t) > 1 and t in sentence)]
        if present:
            out.append((group, weight * max(shares.get(t, 1.0) for t in present) if shares else weight))
    return out


def _card_labels(question: str) -> list[str]:
    """The card lines (by label) that ``question`` asks for."""
    # A card line is written under the document's own name for the field ("提案人：" for 代表提案者).
    return [alias for pattern, labels in _CARD_FIELDS if pattern.search(question) for label in labels
            for alias in (label, *FIELD_ALIASES.get(label, ()))]


def _card_lines(wanted: list[str], text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
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
            lines.append(f"- {_item(sel)} [{sel.marker}]")
    return "\n".join(lines)


def _item(sel: Selection) -> str:
    """"一、(二) 二是：加快推动……" — the section path, then the chosen sentences as written.

    Sentences that are not next to each other are joined with "……" (a card's lines with "；").
    """
    chunk = sel.source.chunk
    parts: list[str] = []
    previous_end = None
    for a, b in sel.spans:
        piece = chunk.text[a:b].strip()
        if previous_end is not None:
            gap = chunk.text[previous_end:a]
            parts.append("；" if chunk.kind == "card" else ("" if not gap.strip() else "……"))
        parts.append(piece)
        previous_end = b
    body = "".join(parts)
    label = chunk.section
    leaf = label.split(" ")[-1].split("、")[-1] or label
    if leaf and body.startswith(leaf):  # "二是加快……" under "一、(二) 二是": keep the label once
        body = body[len(leaf):].lstrip("，,：: ")
    return f"{label}：{body}" if label else body


def extractive_answer(found: Retrieval, lexicon: Lexicon, language: str) -> ExtractiveAnswer:
    selections = select_sentences(found, lexicon)
    return ExtractiveAnswer(render(selections, language), selections)
