"""Follow-up questions → standalone questions, before retrieval.

Retrieving on the raw words of "那土地方面呢？" finds nothing useful: the topic lives in earlier
turns. With an LLM configured, the LLM rewrites (prompt ``prompts/rewrite_*.txt``); otherwise a
deterministic rewrite carries the places and topic terms of the most recent user turns into an
elliptical question.
"""

from __future__ import annotations

import re

from assistant.language.lexicon import Lexicon
from assistant.reading.numbers import suggestion_numbers
from assistant.retrieval.analysis import is_generic
from assistant.retrieval.references import refers, resolve_references
from assistant.text import detect_language

# Cues that a question leans on the conversation ("what about …", "那…呢", "这个", "第二点", "后面那条" …).
_ZH_CUES = re.compile(r"^(那|那么|那你|还有|另外|再|其中|它|其|这|该|上述|刚才)|呢[？?]?$|"
                      r"这个|那个|这些|那些|这一|这方面|那方面|这块|那块|这边|那边|上面|前面|具体怎么|展开|详细说|"
                      r"除此之外|此外|另外|还有(?:什么|哪些|没有)")
_EN_CUES = re.compile(
    r"^(and|what about|how about|and what|what else|also|then|tell me more|more on|same for)\b"
    r"|\b(it|its|this|that|these|those|they|them|the second|the first|the third|point)\b",
    re.IGNORECASE,
)

_DIRECTION = re.compile(r"^[向往]?[东南西北][向部边面方]?$|^(east|south|west|north)(ern|ward|wards)?$", re.IGNORECASE)

MAX_CARRIED_TERMS = 6
# English words for the document itself: every question is about the reply, none is its topic.
_ABOUT_THE_REPLY = {"reply", "replies", "suggestion", "suggestions", "proposal", "proposals", "answer", "response"}


# Question words and particles: what is left of "是哪个部门办的？" without them is its content.
_ZH_QUESTION_WORDS = re.compile(r"哪[一个些里次条项家位年天]?|什么|怎么|怎样|如何|多少|几|谁|吗|呢|吧|的|了|是|在|有|要|会|[？?！!。，,\s]")
_ZH_MIN_CONTENT = 5  # a Chinese question with fewer content characters leans on the conversation


def is_elliptical(question: str, lexicon: Lexicon) -> bool:
    """True when the question cannot stand on its own (a cue word, or almost no content)."""
    q = question.strip()
    if _ZH_CUES.search(q) or _EN_CUES.search(q) or refers(q):
        return True
    if detect_language(q) == "zh" and len(_ZH_QUESTION_WORDS.sub("", q)) < _ZH_MIN_CONTENT:
        return True
    return len(lexicon.query_terms(q)) <= 1


def rewrite_deterministic(question: str, history: list[dict], lexicon: Lexicon) -> str:
    """Carry the topic of earlier user turns into an elliptical follow-up.

    "那押金呢？" after "杭州保租房租金怎么定？" → "那押金呢？（杭州 租房）" (押金 replaces 租金, see
    :func:`_contrasts`): retrieval sees both the new aspect and the old topic, and the user sees
    what was understood. A reference to the last answer ("第二条", "the other city") is spelled
    out first (:mod:`assistant.retrieval.references`).
    """
    previous = [t["content"] for t in history if t.get("role") == "user" and t.get("content")]
    if not previous:
        return question
    # "第二条具体怎么办？" names its subject once "第二条" is spelled out, and then stands on its own
    # (the conversation's documents are still the focus of retrieval).
    resolved = resolve_references(question, history, lexicon)
    if resolved != question or not is_elliptical(question, lexicon):
        return resolved
    own_places = set(_places(question, lexicon))
    own_aspects = {t for t in lexicon.query_terms(question)
                   if not is_generic(t) and not _places(t, lexicon)}
    carried: list[str] = []
    own_numbers = suggestion_numbers(question)
    for turn in reversed(previous[-3:]):
        for number in suggestion_numbers(turn):
            if number not in own_numbers and number not in carried:
                carried.append(number)
    # The follow-up replaces what it names and inherits the rest: "那绍兴呢？" keeps the aspect of
    # the last turn, "那押金呢？" its place, "具体怎么申请？" both. The topic words of the last question
    # are carried even when the follow-up names an aspect ("那退租呢？" after a question on 租金):
    # they point at the same part of the reply.
    if not own_places:
        for turn in reversed(previous[-3:]):
            for place in _places(turn, lexicon):
                if place not in carried:
                    carried.append(place)
    budget = MAX_CARRIED_TERMS if not own_aspects else MAX_CARRIED_TERMS // 2
    # A direction is replaced like a place: "往南呢？" after "城区向东……" drops 向东.
    own_direction = any(_DIRECTION.match(t) for t in lexicon.tokenize(question))
    for term in _surface_terms(previous[-1], lexicon):
        if budget <= 0:
            break
        if (term not in carried and term not in own_aspects and not is_generic(term)
                and not _places(term, lexicon) and not (own_direction and _DIRECTION.match(term))
                and not any(_contrasts(term, aspect) for aspect in own_aspects)):
            carried.append(term)
            budget -= 1
    if not carried:
        return question
    if detect_language(question) == "en":
        return f"{question.strip()} (context: {', '.join(carried)})"
    return f"{question.strip()}（{' '.join(carried)}）"


def _places(text: str, lexicon: Lexicon) -> list[str]:
    """The places a turn names: the lexicon's own, then those elsewhere (any city: 德阳, 绍兴)."""
    return list(dict.fromkeys(lexicon.places_in(text) + lexicon.other_places(text)))


def _contrasts(carried: str, own: str) -> bool:
    """Whether the follow-up's word replaces a word of the last question: Chinese compounds put their
    head last, so two words of one length that share it are kinds of one thing ("那女性呢？" after a
    question on 男性, 初中 after 小学, 押金 after 租金): the new kind replaces the old one."""
    return (carried != own and len(carried) == len(own) in (2, 3) and carried[-1] == own[-1]
            and not carried.isascii())


def _surface_terms(text: str, lexicon: Lexicon) -> list[str]:
    """Content words of a turn as written (no glossary expansion), in order, deduplicated: English
    glossary phrases first, whole ("red tape", not "red" and "tape"), then words. English words are
    kept only when the glossary knows them ("moving" carries no topic), and words about the reply
    itself ("reply", "suggestion") are not its topic."""
    out: list[str] = list(dict.fromkeys(p.lower() for p in lexicon.glossary_phrases(text)))
    in_phrases = {w for p in out + lexicon.glossary_phrases(text, non_terms=True) for w in p.lower().split()}
    for tok in lexicon.tokenize(text):
        if tok.isascii() and (not lexicon.knows(tok) or tok in in_phrases or tok in _ABOUT_THE_REPLY):
            continue
        if len(tok) >= 2 and tok not in out:
            out.append(tok)
    return out
