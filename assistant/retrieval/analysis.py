"""What a question asks, read once: its terms and concepts, places, years, intents and the kind of
fact it wants. Ranking, the relevance gate and the extractive answer all read this one object."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.language.lexicon import Lexicon
from assistant.language.wordlists import RESOURCES_DIR, read_lines

__all__ = [
    "ASKS_MORE",
    "GENERIC_TERMS",
    "ORDINAL",
    "FactKind",
    "QuestionAnalysis",
    "analyse",
    "asked_facts",
    "fact_kinds",
    "is_generic",
]

YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# Questions about the reply itself: its proposer, number, session, handling units, title, signature,
# 文号, dates and contact.
CARD_INTENT = re.compile(
    r"谁提|提出的|提出人|提案者|提案人|哪位代表|代表是谁|什么人|编号|多少号|几号|哪个单位(?!工作)|哪些单位|什么单位(?!工作)|"
    r"主办|会办|承办|协办|办理单位|负责办理|谁办理|谁负责|谁答复|届次|哪次会议|哪一次会议|什么会议|哪届|标题|"
    r"who (?:proposed|submitted|raised|made|wrote|put forward|filed)|proposer|which (?:deputy|session|meeting|"
    r"department|office|unit|body|government)|handl|in charge|responsible|what number|suggestion number|"
    r"which number|title of|哪次会|什么会上|哪个会上|名义|发文机关|落款|署名|issued|signed|sent by|on whose behalf|"
    r"which government|"
    # …and what the reply says about itself at its head or foot: 文号, who signed it and when, whom to call.
    r"签发|文号|发文字号|联系人|联系电话|电话多少|电话是多少|打什么电话|联系谁|找谁|联系方式|办理结果|哪一类|几类|"
    r"[ABC]类|抄送|答复单位|回复单位|哪个部门答复|联名|类别|谁签|"
    r"(?:答复|回复|复函)(?:是|于)?(?:哪天|哪一天|什么时候|何时|几月几[号日]|的?日期|的?时间)|"
    r"(?:哪天|哪一天|什么时候|何时)(?:答复|回复|发出|印发|签发)|"
    r"date of (?:the|this) (?:reply|answer)|when was (?:the|this) (?:reply|answer) (?:sent|written|made)|"
    r"document number|reference number|file number|contact person|phone number|who (?:can|should) (?:i|we) "
    r"(?:call|contact)|who signed|signed by|when was (?:it|the reply|this reply) (?:signed|issued|dated)|"
    r"result class|copied to",
    re.IGNORECASE,
)
# Questions about how the reply ends (its thanks and contact line).
CLOSING_INTENT = re.compile(
    r"结束语|结尾|结语|最后(?:怎么|如何|说了|写了)|"
    r"how does (?:the|this|it) (?:reply|answer|letter)? ?(?:close|end)|closing|ends? with|sign(?:ed)? off",
    re.IGNORECASE,
)
# Words that frame a question rather than name its subject ("有哪些*措施*", "*政策*"): they count
# for little when judging whether a section (or sentence) covers the question.
GENERIC_TERMS = frozenset({
    "措施", "举措", "政策", "情况", "工作", "内容", "方面", "问题", "做法", "办法", "有关", "相关", "方式",
    "具体", "主要", "哪些", "什么", "怎么", "如何", "进展", "打算", "计划", "规定", "要求",
    "详细情况", "怎么样", "一点", "落实", "measure", "measures", "specific", "specifically", "do", "does", "done",
})
ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+[点条项个]?")  # 第三条: points into the conversation
# Words of a follow-up that ask for more without naming anything ("第二点具体怎么做？", "展开说说").
ASKS_MORE = re.compile(ORDINAL.pattern + r"|这一?点|展开|说说?|详细|介绍|一下|怎么做|做|"
                       r"more|details?|else|tell|explain|elaborate|point|first|second|third")


def is_generic(term: str) -> bool:
    """Whether ``term`` frames a question or asks for more without naming a subject of its own: a
    follow-up of only such words ("第二点具体怎么做？") names no aspect, and they are never a topic."""
    return term in GENERIC_TERMS or bool(ASKS_MORE.fullmatch(term))


@dataclass(frozen=True)
class FactKind:
    """A kind of fact a question may ask for (a date, an amount, a target …); see ``asked_facts.tsv``."""

    name: str
    asks: re.Pattern  # the question asks for this kind of fact
    holds: re.Pattern  # a text states one
    refuses: bool  # the gate refuses when no answering text holds one; else it only picks sentences
    ask_words: re.Pattern | None = None  # tokens that only say which kind is asked ("目标", "区间")

    def is_ask_word(self, token: str) -> bool:
        """Whether ``token`` only says which kind of fact is asked: "哪一年" in "哪一年出台的"."""
        return bool(self.asks.search(token) or (self.ask_words and self.ask_words.match(token)))


@functools.cache
def fact_kinds(path: Path = RESOURCES_DIR / "asked_facts.tsv") -> tuple[FactKind, ...]:
    """The kinds of fact of ``asked_facts.tsv``, in file order (the gate reports the first missing)."""
    kinds = []
    for lineno, line in read_lines(path):
        name, use, asks, holds, *words = line.split("\t")
        if use not in ("refuse", "choose") or len(words) > 1:
            raise ValueError(f"{path}:{lineno}: expected 'kind<TAB>refuse|choose<TAB>asks<TAB>holds"
                             f"[<TAB>ask words]', got {line!r}")
        kinds.append(FactKind(name, re.compile(asks, re.IGNORECASE), re.compile(holds), use == "refuse",
                              re.compile(words[0], re.IGNORECASE) if words else None))
    return tuple(kinds)


@dataclass(frozen=True)
class QuestionAnalysis:
    """What one question asks, as read by :func:`analyse`."""

    text: str
    terms: tuple[str, ...]  # search terms (the lexicon's query terms)
    concepts: tuple[tuple[str, ...], ...]  # groups of interchangeable terms, unweighted
    carried: frozenset[tuple[str, ...]]  # concepts a follow-up's rewrite brought in, not typed by the user
    framing: frozenset[tuple[str, ...]]  # concepts that frame the question (措施, 第三条), not its subject
    place_concepts: frozenset[tuple[str, ...]]  # concepts that only name places
    places: tuple[str, ...]  # places of the lexicon's own, canonical forms
    place_groups: tuple[tuple[str, ...], ...]  # each place with the places it goes with
    other_places: tuple[str, ...]  # places elsewhere (北京市)
    years: tuple[str, ...]
    card_intent: bool  # asks about the proposer, number, session or units
    closing_intent: bool  # asks how the reply closes
    facts: tuple[FactKind, ...]  # the kinds of fact it asks for, in table order

    @property
    def refusing_facts(self) -> tuple[FactKind, ...]:
        """The kinds of fact the gate checks (a target only picks sentences)."""
        return tuple(kind for kind in self.facts if kind.refuses)

    def is_ask_word(self, token: str) -> bool:
        """Whether ``token`` only asks for a kind of fact the question wants ("哪一年", "比例")."""
        return any(kind.is_ask_word(token) for kind in self.facts)


def analyse(question: str, lexicon: Lexicon, own: str = "") -> QuestionAnalysis:
    """Read ``question`` once. ``own`` is what the user typed when ``question`` is a rewritten
    follow-up: the concepts the rewrite added are marked ``carried``."""
    concepts = tuple(lexicon.query_concepts(question))
    places = tuple(lexicon.places_in(question))
    return QuestionAnalysis(
        text=question,
        terms=tuple(lexicon.query_terms(question)),
        concepts=concepts,
        carried=_carried(question, own, concepts, lexicon),
        # A concept frames the question when the word typed does (its synonyms do not make it a subject).
        framing=frozenset(g for g in concepts if g[0] in GENERIC_TERMS or ORDINAL.fullmatch(g[0])),
        place_concepts=frozenset(g for g in concepts if all(_names_a_place(t, places, lexicon) for t in g)),
        places=places,
        place_groups=tuple(tuple(lexicon.cluster_of(p)) for p in places),
        other_places=tuple(lexicon.other_places(question)),
        years=tuple(dict.fromkeys(YEAR.findall(question))),
        card_intent=bool(CARD_INTENT.search(question)),
        closing_intent=bool(CLOSING_INTENT.search(question)),
        facts=asked_facts(question),
    )


def _names_a_place(term: str, places: tuple[str, ...], lexicon: Lexicon) -> bool:
    """Whether ``term`` names a place here: a listed place, unless it is a short form that is also an
    ordinary word and the question does not use it as a place ("景区新建了多少泊位": 新建 is "newly
    built", an aspect of the question, not 南昌's 新建区)."""
    canonical = lexicon.canonical_place(term)
    return bool(canonical) and (canonical not in lexicon.place_names.ambiguous or canonical in places)


def asked_facts(question: str) -> tuple[FactKind, ...]:
    """The kinds of fact ``question`` asks for, in table order: "哪一年出台的" asks for a date."""
    return tuple(kind for kind in fact_kinds() if kind.asks.search(question))


def _carried(question: str, own: str, concepts: tuple[tuple[str, ...], ...],
             lexicon: Lexicon) -> frozenset[tuple[str, ...]]:
    """The concepts of a rewritten follow-up that the user did not type (none when the user's
    words name nothing: "第二点具体怎么做？" leans on the carried words entirely)."""
    if not own or own.strip() == question.strip():
        return frozenset()
    typed = {t for group in lexicon.query_concepts(own) for t in group}
    if all(is_generic(t) for t in typed):
        return frozenset()
    return frozenset(g for g in concepts if not typed.intersection(g))
