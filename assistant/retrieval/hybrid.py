"""Hybrid retrieval: keywords + vectors, fused by reciprocal rank, with filters, boosts and a gate.

    question ─┬─ lexicon.query_terms ─→ BM25 (jieba tokens, glossary for English) ─┐
              └─ e5 "query: " vector  ─→ Chroma (cosine)                        ─┴→ RRF → boosts → dedupe
                                                                                  → relevance gate → top-k

Implicit filters come from the question itself: a suggestion number ("第616号") limits the search to
that reply (and an unknown number is refused outright); place names (惠水) favour sections that
name the place or its town cluster; questions about the proposer, number, session or handling units
favour the reply's document card.
"""

from __future__ import annotations

import functools
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.embedding import Embedder
from assistant.index.search_index import SearchIndex, Snapshot
from assistant.language.lexicon import Lexicon
from assistant.reading.numbers import normalize_suggestion_no, suggestion_numbers
from assistant.schema import ScoredChunk
from assistant.settings import Settings
from assistant.text import split_sentences

_PLACE_SUFFIX = re.compile(r"(?<=..)(?:省|市|县|区|州|自治区|自治州)$")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_YEAR_TOKEN = re.compile(r"\d+年?")  # a question's year or number as a token: not its subject
_CARD_INTENT = re.compile(
    r"谁提|提出的|提出人|提案者|提案人|哪位代表|代表是谁|什么人|编号|多少号|几号|哪个单位(?!工作)|哪些单位|什么单位(?!工作)|"
    r"主办|会办|承办|协办|办理单位|负责办理|谁办理|谁负责|谁答复|届次|哪次会议|哪一次会议|什么会议|哪届|标题|"
    r"who (?:proposed|submitted|raised|made|wrote|put forward|filed)|proposer|which (?:deputy|session|meeting|"
    r"department|office|unit|body|government)|handl|in charge|responsible|what number|suggestion number|"
    r"which number|title of|哪次会|什么会上|哪个会上|名义|发文机关|落款|署名|issued|signed|sent by|on whose behalf|"
    r"which government",
    re.IGNORECASE,
)
# Questions about how the reply ends (its thanks and contact line).
_CLOSING_INTENT = re.compile(
    r"结束语|结尾|结语|最后(?:怎么|如何|说了|写了)|"
    r"how does (?:the|this|it) (?:reply|answer|letter)? ?(?:close|end)|closing|ends? with|sign(?:ed)? off",
    re.IGNORECASE,
)


# Words that frame a question rather than name its subject ("有哪些*措施*", "*政策*"): they count
# for little when judging whether a section (or sentence) covers the question.
GENERIC_TERMS = frozenset({
    "措施", "举措", "政策", "情况", "工作", "内容", "方面", "问题", "做法", "办法", "有关", "相关", "方式",
    "具体", "主要", "哪些", "什么", "怎么", "如何", "进展", "打算", "计划", "规定", "要求",
})
GENERIC_WEIGHT = 0.3
#: Weight of the concepts a follow-up's rewrite carried over from earlier turns (vs the user's own).
CARRIED_WEIGHT = 0.5
# Words of a follow-up that ask for more without naming anything ("第二点具体怎么做？", "展开说说").
_ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+[点条项个]?")  # 第三条: points into the conversation
_ASKS_MORE = re.compile(_ORDINAL.pattern + r"|这一?点|展开|说说?|详细|介绍|一下|怎么做|做|"
                        r"more|details?|else|tell|explain|elaborate|point|first|second|third")
#: Share of the question's subject (by weight) that the sentence holding an asked-for fact must name.
FACT_SUBJECT_SHARE = 0.5


# Questions that ask for a specific kind of fact (a date, an amount, a count, a contact, a person in
# office) are answerable only from a section that holds such a fact. Replies describe measures, so
# "什么时候开工？" or "预算多少钱？" over a section that names the project but no date or sum is the
# classic case of a confident wrong answer: the gate refuses it.
_ANSWER_TYPES: list[tuple[str, re.Pattern, re.Pattern]] = [
    ("date",
     re.compile(r"什么时候|何时|哪天|哪一天|几月|日期|时间表|哪年|哪一年|开工|竣工|开幕|\bwhen\b|what date|which date|"
                r"what day|what year|which year|deadline", re.I),
     re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|(?:19|20)\d\d|[一二三四五六七八九十]{1,3}月")),
    ("amount",
     re.compile(r"多少钱|多少元|多少资金|金额|预算|投入多少|投资多少|房价|均价|单价|价格|费用|额度|"
                r"(?:规模|安排|发行|增加|减少|退税|补贴)(?:是|有|了|约|大概|大约){0,2}多少|多少(?:亿|万)|"
                r"\b(?:how much|budget|costs?|prices?|funding|spend)\b", re.I),
     re.compile(r"\d[\d,.]*\s*(?:万|亿)?\s*(?:元|美元)|\d+(?:\.\d+)?\s*%|\d+(?:\.\d+)?\s*(?:万|亿)")),
    ("ratio",
     re.compile(r"比例|比率|百分之几|占比|报销.{0,4}多少|分成|\b(?:percentage|ratio|what share|what rate)\b", re.I),
     re.compile(r"\d+(?:\.\d+)?\s*%|百分之|[一二三四五六七八九]成(?![立为员本果])|\d+\s*[:：比]\s*\d+")),
    ("quantity",
     re.compile(r"多少人|人口(?:是|有)?多少|多少个|\b(?:how many|population)\b", re.I),
     re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?\s*(?:人|个|项|家|户|%|平方公里|公里|吨|元)|百分之")),
    ("contact",
     re.compile(r"电话|联系方式|手机|邮箱|地址|\b(?:phone|e-?mail|contact|address of)\b", re.I),
     re.compile(r"\d{7,}|\d{3,4}-\d{7,8}|@")),
    ("weather",
     re.compile(r"天气|气温|温度|下雨|降雨量|weather|forecast|temperature|rain(?:fall)?\b", re.I),
     re.compile(r"℃|摄氏度|气温\s*\d|天气预报")),
    ("route",
     re.compile(r"怎么走|怎么去|如何前往|怎么坐车|坐几路|乘坐.{0,6}(?:公交|地铁|班车)|公交.{0,4}去|路线怎么|"
                r"how (?:do|can) (?:i|we|you) get to|directions to|which bus|what bus", re.I),
     re.compile(r"\d+\s*路(?:公交|车)|公交.{0,8}站|地铁\s*\d+\s*号线|乘坐.{0,10}(?:公交|地铁)")),
    ("personal",
     re.compile(r"在哪(?:个|家)?(?:单位|公司|里)(?:工作|上班|任职)|工作单位|职业是|年龄|多大(?:年纪|岁)|哪里人|"
                r"where does .{1,40} work|how old|what is (?:his|her) (?:job|occupation|age)", re.I),
     re.compile(r"工作单位|任职于|现任|\d+\s*岁|出生于")),
    ("person",
     re.compile(r"(?:市长|书记|主任|局长|县长|州长|负责人)(?:是谁|由谁|叫什么)|由谁担任|谁担任|"
                r"who is the (?:current )?(?:mayor|director|secretary|head|governor|chair)|who heads", re.I),
     re.compile(r"担任|任组长|任主任")),
]


# A question for a target figure ("2023年城镇新增就业的目标是多少？") is best answered by the planned
# figure (6.5%－7%, 1200万人左右, 1.3万亿斤以上), not by last year's result that the same report also
# gives. Targets are often stated in words too, so this kind only picks sentences, never refuses.
_TARGET = ("target",
           re.compile(r"目标(?:是|为|定为|定在)?多少|目标的?区间|多少.{0,6}目标|预期目标.{0,6}(?:多少|几)|"
                      r"\bwhat\b.{0,40}\b(?:target(?:s|ed)?|goal)\b", re.I),
           re.compile(r"\d+(?:\.\d+)?\s*%?\s*[－—~～至到-]\s*\d+(?:\.\d+)?\s*%|"
                      r"\d[\d.]*\s*[^\d，。；,;\s]{0,3}(?:左右|以上|以内|以下)"))

# Words of the question that only say which kind of fact it asks for, not what about: "目标" and
# "区间" in "经济增长目标的区间是多少" (the subject is 经济增长).
_ASK_WORDS = {"target": re.compile(r"^(?:\w*目标|预期|区间|范围|targets?|targeted|goals?|range)$", re.I)}


def _is_ask_word(name: str, asks: re.Pattern, token: str) -> bool:
    words = _ASK_WORDS.get(name)
    return bool(asks.search(token) or (words and words.match(token)))


def asked_facts(question: str) -> list[tuple[Callable[[str], bool], re.Pattern]]:
    """(is an asking word, fact pattern) of each kind of fact the question asks for: "哪一年出台的"
    asks for a date, and 哪一年 is no part of its subject."""
    return [(functools.partial(_is_ask_word, name, asks), holds)
            for name, asks, holds in [*_ANSWER_TYPES, _TARGET] if asks.search(question)]


def answer_type_missing(question: str, texts: list[str],
                        concepts: list[tuple[tuple[str, ...], float]] | None = None,
                        titles: list[str] | None = None) -> str:
    """The kind of fact the question asks for when none of the texts holds one about the question's
    subject, else "".

    With ``concepts`` (the question's weighted term groups), the fact must stand in a sentence that,
    with the sentence before it, names at least half (by weight) of the subject — the concepts
    other than the words that ask for the fact ("预算", "比例") and the years (the place and year
    check covers those). A work report's "税收收入增长8%" does not answer "产业转移企业的税收按
    什么比例分成". A fact in the document's title (its year) answers when the text names the
    subject anywhere: "哪一年的报告提出……".
    """
    titles = titles or [""] * len(texts)
    for name, asks, holds in _ANSWER_TYPES:
        if not asks.search(question):
            continue
        subject = [(group, w) for group, w in (concepts or ())
                   if w > 0 and not any(asks.search(t) or _YEAR_TOKEN.fullmatch(t) for t in group)]
        if not any(_holds_about(holds, text, title, subject) for text, title in zip(texts, titles)):
            return name
    return ""


def _holds_about(holds: re.Pattern, text: str, title: str,
                 subject: list[tuple[tuple[str, ...], float]]) -> bool:
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


@dataclass
class Retrieval:
    """What the retriever found, and whether it is relevant enough to answer from."""

    query: str
    results: list[ScoredChunk]
    relevant: bool
    reason: str = ""  # why the gate refused: "empty_index" | "unknown_number" | "no_match"
    evidence: dict = field(default_factory=dict)
    places: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    concepts: list[tuple[tuple[str, ...], float]] = field(default_factory=list)  # (terms, idf weight)
    # For a term that is part of a longer term of its concept, its idf as a share of the concept's
    # weight: a sentence that says 规划 covers "planning commission" (规划委员会) only for 规划's share.
    term_shares: dict[str, float] = field(default_factory=dict)
    carried: set[tuple[str, ...]] = field(default_factory=set)  # concepts a follow-up's rewrite brought in
    card_intent: bool = False  # the question asks about the proposer, number, session or units
    closing_intent: bool = False  # the question asks how the reply closes
    timings_ms: dict[str, float] = field(default_factory=dict)


class HybridRetriever:
    """Keyword + vector retrieval over the index, with fusion, filters, boosts and a gate."""

    def __init__(self, settings: Settings, index: SearchIndex, embedder: Embedder, lexicon: Lexicon):
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.lexicon = lexicon

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
        terms = self.lexicon.query_terms(question)
        places = self.lexicon.places_in(question)
        if not snap.chunks:
            return Retrieval(question, [], False, "empty_index", terms=terms, places=places)

        doc_ids, unknown = self._doc_filter(snap, question, filters)
        if unknown:
            return Retrieval(question, [], False, "unknown_number", {"number": unknown},
                             places=places, terms=terms)

        focus = self.focus(snap, history, doc_ids) if history else {}
        # A deputy named in the question ("凌毅代表的……") points at their suggestions' replies.
        for name, named_docs in snap.by_proposer.items():
            if name in question:
                focus.update({d: 1.0 for d in named_docs if not doc_ids or d in doc_ids})
        carried = self.carried(question, own)
        fused, dense, concepts = self._rank(snap, question, terms, places, doc_ids, focus, timings, carried)
        t = time.perf_counter()
        # The fact check weighs the question's subject in words the index knows; an English word
        # the glossary does not translate ("much", "money") is not looked for in Chinese sentences.
        known = [(g, w) for g, w in concepts
                 if any(t in snap.keyword.vocab and not (t.isascii() and t.isalpha()) for t in g)]
        relevant, evidence = self._gate(fused, dense, question, places, known)
        timings["gate"] = _ms(t)
        return Retrieval(
            query=question,
            results=fused[:k],
            relevant=relevant,
            reason="" if relevant else "no_match",
            evidence=evidence,
            places=places,
            terms=terms,
            concepts=concepts,
            term_shares=self.term_shares(snap, concepts),
            carried=carried,
            card_intent=bool(_CARD_INTENT.search(question)),
            closing_intent=bool(_CLOSING_INTENT.search(question)),
            timings_ms=timings,
        )

    # ---- steps ---------------------------------------------------------------------------------
    def _doc_filter(self, snap: Snapshot, question: str, filters: dict | None) -> tuple[list[str] | None, str]:
        """Explicit filters, then a suggestion number named in the question. Returns (doc ids, unknown no.)."""
        filters = filters or {}
        doc_ids: list[str] | None = list(filters.get("doc_ids") or []) or None
        number = filters.get("suggestion_no")
        if number:
            named = normalize_suggestion_no(number)
            wanted = snap.by_number.get(named, [])
            if not wanted:  # refused like a question naming it, rather than searching everything
                return None, named or str(number)
            doc_ids = [d for d in (doc_ids or wanted) if d in wanted]
        for named in suggestion_numbers(question):
            found = snap.by_number.get(named)
            if not found:
                return None, named
            doc_ids = [d for d in (doc_ids or found) if d in found] or found
        return doc_ids, ""

    def _rank(self, snap: Snapshot, question: str, terms: list[str], places: list[str],
              doc_ids: list[str] | None, focus: dict[str, float], timings: dict[str, float],
              carried: set[tuple[str, ...]] | None = None
              ) -> tuple[list[ScoredChunk], list[tuple[str, float]], list[tuple[tuple[str, ...], float]]]:
        """Candidates from both lists (and, on a follow-up, from the conversation's documents
        alone), fused and boosted. Returns the fused ranking, the dense list and the concepts."""
        s = self.settings
        t = time.perf_counter()
        vector = self.embedder.embed_query(question)
        timings["embed"] = _ms(t)
        t = time.perf_counter()
        dense = self.index.dense(snap, vector, s.candidate_k, doc_ids)
        timings["dense"] = _ms(t)
        t = time.perf_counter()
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
        concepts = self.concepts(snap, question, carried)
        fused = self._fuse(snap, lists, question, places, concepts, focus)
        timings["fuse"] = _ms(t)
        return fused, dense, concepts

    def focus(self, snap: Snapshot, history: list[dict], doc_ids: list[str] | None = None) -> dict[str, float]:
        """The documents the conversation is about, weighted 0..1: those named by number in the last
        turns, else those that best answer the previous question (its vector is usually cached)."""
        recent = [t.get("content") or "" for t in history[-2:]]
        out: dict[str, float] = {}
        for number in suggestion_numbers("\n".join(recent)):
            for doc_id in snap.by_number.get(number, []):
                out[doc_id] = 1.0
        if out:
            return {d: w for d, w in out.items() if not doc_ids or d in doc_ids}
        previous = next((t.get("content") for t in reversed(history)
                         if t.get("role") == "user" and (t.get("content") or "").strip()), "")
        if not previous:
            return {}
        fused, _, _ = self._rank(snap, previous, self.lexicon.query_terms(previous),
                              self.lexicon.places_in(previous), doc_ids, {}, {})
        for rank, sc in enumerate(fused[:3]):
            out.setdefault(sc.chunk.doc_id, 1.0 if rank == 0 else 0.5)
        return out

    def _fuse(self, snap: Snapshot, lists: list[tuple[str, float, list[tuple[str, float]]]],
              question: str, places: list[str], concepts: list[tuple[tuple[str, ...], float]],
              focus: dict[str, float] | None = None) -> list[ScoredChunk]:
        """Weighted reciprocal-rank fusion of ``(kind, weight, hits)`` lists, plus bonuses for
        covering the question's concepts and places, for government documents' sections, and for
        the documents a follow-up is about."""
        s = self.settings
        found: dict[str, ScoredChunk] = {}
        for kind, weight, hits in lists:
            for rank, (cid, score) in enumerate(hits, start=1):
                sc = found.setdefault(cid, ScoredChunk(snap.chunks[cid], 0.0))
                if kind == "dense" and sc.dense_rank is None:
                    sc.dense_score, sc.dense_rank = score, rank
                elif kind == "lexical" and sc.lexical_rank is None:
                    sc.lexical_score, sc.lexical_rank = score, rank
                sc.score += weight / (s.rrf_k + rank)

        top = 1.0 / (s.rrf_k + 1)  # the fused score of a first place on one list
        cluster = {p for place in places for p in self.lexicon.cluster_of(place)} - set(places)
        card_intent = bool(_CARD_INTENT.search(question))
        closing_intent = bool(_CLOSING_INTENT.search(question))
        years = list(dict.fromkeys(_YEAR.findall(question)))
        focus = focus or {}
        coverage = _coverage(snap, list(found), concepts)
        for sc, cov in zip(found.values(), coverage):
            text = sc.chunk.text
            if _structured(snap, sc.chunk):
                sc.score += s.structure_boost * top
            if sc.chunk.suggestion_no:
                sc.score += s.reply_boost * top
            if sc.chunk.doc_id in focus:
                sc.score += s.focus_boost * top * focus[sc.chunk.doc_id]
            if closing_intent and sc.chunk.kind == "closing":
                sc.score += s.card_boost * top
            sc.coverage = float(cov)
            sc.score += s.coverage_weight * top * sc.coverage
            if places:
                if any(p in text for p in places):
                    sc.score += s.place_boost * top
                elif any(p in text for p in cluster):
                    sc.score += 0.5 * s.place_boost * top
            if years and any(y in sc.chunk.index_text or y in sc.chunk.doc_title for y in years):
                sc.score += s.year_boost * top  # "2023年…的目标" is about 2023's report
            if card_intent and sc.chunk.kind == "card":
                sc.score += s.card_boost * top

        # Equal scores are ordered by document and position, not by which list saw them first: the
        # same question over an index with one more document must not swap two tied sections.
        ranked = sorted(found.values(), key=lambda x: (-round(x.score, 9), x.chunk.doc_id, x.chunk.order))
        unique: list[ScoredChunk] = []
        seen: set[str] = set()
        for sc in ranked:  # identical text (the same reply ingested twice) is shown once
            key = snap.text_key(sc.chunk)
            if key not in seen:
                seen.add(key)
                unique.append(sc)
        return unique

    def _gate(self, fused: list[ScoredChunk], dense: list[tuple[str, float]], question: str,
              places: list[str], concepts: list[tuple[tuple[str, ...], float]]) -> tuple[bool, dict]:
        """Is anything relevant? Evidence: concept coverage and the dense score's standing.

        e5 cosines bunch between 0.7 and 0.9 whatever the question, so the dense evidence is
        relative: how far the best hit stands above the median of the candidate list.
        """
        if not fused:
            return False, {}
        coverage = max(sc.coverage for sc in fused[:3])
        scores = [sc for _, sc in dense]
        margin = (scores[0] - statistics.median(scores)) if len(scores) >= 3 else 0.0
        dense_top = scores[0] if scores else 0.0
        # Questions about the reply itself (who proposed it, how it closes) are answered by its card
        # or its closing, whatever the words' overlap.
        card = (bool(_CARD_INTENT.search(question)) and any(sc.chunk.kind == "card" for sc in fused[:2])) or (
            bool(_CLOSING_INTENT.search(question)) and any(sc.chunk.kind == "closing" for sc in fused[:2]))
        top = fused[0]
        agree = (top.dense_rank or 99) <= 3 and (top.lexical_rank or 99) <= 3
        # The fact must be in a section the answer would come from, next to the question's subject.
        answering = [sc.chunk for sc in fused[:3]]
        missing = "" if card else answer_type_missing(
            question, [c.text for c in answering], concepts, [c.doc_title for c in answering])
        # A place or a year the question is about must appear in what would answer it (the
        # section or its document's title): "2026年的增长目标" is not answered by 2025's report.
        unanchored = self.unanchored(question, places, fused[:3])
        evidence = {"coverage": round(coverage, 3), "dense_top": round(dense_top, 4),
                    "dense_margin": round(margin, 4), "card": card, "agree": agree, "missing": missing,
                    "unanchored": unanchored}
        s = self.settings
        relevant = not missing and not unanchored and (
            card
            or coverage >= s.gate_coverage
            or margin >= s.gate_margin
            or (agree and coverage >= s.gate_coverage_weak)
        )
        return relevant, evidence

    def unanchored(self, question: str, places: list[str], top: list[ScoredChunk]) -> list[str]:
        """Places (or their town cluster) and years the question names that none of ``top`` mentions."""
        texts = [sc.chunk.index_text + sc.chunk.doc_title for sc in top]
        anchors = [{p, *self.lexicon.cluster_of(p)} for p in places]
        # Places elsewhere (北京市 → 北京市 or 北京): "北京市的专项债券额度" needs a text about Beijing.
        anchors += [{p, _PLACE_SUFFIX.sub("", p) or p} for p in self.lexicon.other_places(question)]
        anchors += [{y} for y in dict.fromkeys(_YEAR.findall(question))]
        return [min(forms, key=len) for forms in anchors
                if not any(form in text for form in forms for text in texts)]

    @staticmethod
    def term_shares(snap: Snapshot, concepts: list[tuple[tuple[str, ...], float]]) -> dict[str, float]:
        """For a term that is part of a longer term of its concept (规划 of 规划委员会): its idf ÷
        the concept's largest. Alternatives that are not parts of one another (土地, 用地) count fully."""
        parts = [(t, g) for g, _ in concepts for t in g if any(t != u and t in u for u in g)]
        idf = snap.keyword.idf_of([t for _, g in parts for t in g])
        return {t: min(1.0, idf[t] / (max(idf[u] for u in g) or 1.0)) for t, g in parts}

    def concepts(self, snap: Snapshot, question: str, carried: set[tuple[str, ...]] | None = None
                 ) -> list[tuple[tuple[str, ...], float]]:
        """The question's concepts with idf weights (English words the glossary turned into Chinese
        are matched as Chinese); the ``carried`` ones (see :meth:`carried`) weigh
        :data:`CARRIED_WEIGHT` as much."""
        groups = self.lexicon.query_concepts(question)
        idf_all = snap.keyword.idf_of([t for group in groups for t in group])
        carried = carried or set()
        out = []
        for group in groups:
            known = [t for t in group if t in snap.keyword.vocab]
            weight = max(idf_all[t] for t in group)
            if not known and all(t.isascii() for t in group):
                # An English word the glossary does not know and no document uses: it still counts
                # against coverage (the question asks about something), but for less.
                weight *= self.settings.unknown_term_weight
            if all(t in GENERIC_TERMS or _ORDINAL.fullmatch(t) for t in group):
                weight *= GENERIC_WEIGHT  # "第三条里税收怎么分？": 第三条 points into the conversation
            if group in carried:
                weight *= CARRIED_WEIGHT
            out.append((group, weight))
        return out

    def carried(self, question: str, own: str) -> set[tuple[str, ...]]:
        """The concepts of a rewritten follow-up that the user did not type (none when the user's
        words name nothing: "第二点具体怎么做？" leans on the carried words entirely)."""
        if not own or own.strip() == question.strip():
            return set()
        typed = {t for group in self.lexicon.query_concepts(own) for t in group}
        if all(t in GENERIC_TERMS or _ASKS_MORE.fullmatch(t) for t in typed):
            return set()
        return {g for g in self.lexicon.query_concepts(question) if not typed.intersection(g)}


def covered_by(sentence: str, tokens: frozenset[str] | set[str], concepts: list[tuple[tuple[str, ...], float]],
               shares: dict[str, float] | None = None) -> list[tuple[tuple[str, ...], float]]:
    """The concepts a sentence covers, with the weight it earns: one of the group's terms is a token
    of it, or (two characters and more) stands in it — "作" is not in 作用, 规划委员会 is in
    设立黔中城市群规划委员会. With ``shares``, a group earns the share of its best term present."""
    out = []
    for group, weight in concepts:
        present = [t for t in group if t in tokens or (len(t) > 1 and t in sentence)]
        if present:
            out.append((group, weight * max(shares.get(t, 1.0) for t in present) if shares else weight))
    return out


def _structured(snap: Snapshot, chunk) -> bool:
    """A section of a government document: a reply (it has a number) or a sectioned text, not
    free-running text such as a news article."""
    return chunk.kind != "intro" or chunk.doc_id in snap.structured_docs


def _coverage(snap: Snapshot, chunk_ids: list[str],
              concepts: list[tuple[tuple[str, ...], float]]) -> np.ndarray:
    """Idf-weighted share of the question's concepts that each chunk contains."""
    total = sum(w for _, w in concepts)
    if total <= 0 or not chunk_ids:
        return np.zeros(len(chunk_ids))
    held = snap.keyword.contains([group for group, _ in concepts], chunk_ids)
    return np.asarray([w for _, w in concepts]) @ held / total


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)

