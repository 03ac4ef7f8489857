"""What a follow-up points at in the conversation: "第二条", "后面那个", "前两项", "the last two", "the other city".

An answer lists items: an extractive answer's quoted lines ("- 一、(二)：…… [2]"), an LLM's numbered
lines, a sentence that enumerates ("一是……二是……", "五个方面：甲、乙、丙") or the places it names. A
follow-up that picks an item by its position means that item's words; :func:`resolve_references`
spells them out, so that the question stands on its own whatever the document. Nothing here knows a
document: positions are read from the question, items from the previous answer's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.index.search_index import Snapshot
from assistant.language.lexicon import Lexicon
from assistant.reading.numbers import suggestion_numbers
from assistant.text import detect_language

__all__ = ["answer_items", "named_documents", "refers", "resolve_references", "rewound"]

_ZH_NUMBERS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)} | {"两": 2}
_EN_NUMBERS = {w: i for i, w in enumerate(["one", "two", "three", "four", "five"], start=1)}
_EN_ORDINALS = {w: i for i, w in enumerate(["first", "second", "third", "fourth", "fifth", "sixth"], start=1)}
_CLASSIFIER = "[个项条点处方面类块]"  # 第二*条*, 后两*个*; 方面 as in 第二方面
_EN_ITEM = r"(?:one|point|item|measure|part|step|thing|aspect|area)s?"
_EN_PLACE = r"(?:city|cities|county|counties|district|town|place|province|region|area)"
_ZH_PLACE = r"(?:城市|地方|县|区|市|州|省|镇|地区)"

Picker = Callable[[re.Match, list[str]], list[str]]


def _nth(n: int) -> Picker:
    return lambda _m, items: [items[n - 1]] if 0 < n <= len(items) else []


def _ordinal(m: re.Match, items: list[str]) -> list[str]:
    word = m.group("n").lower()
    n = int(word) if word.isdigit() else _ZH_NUMBERS.get(word) or _EN_ORDINALS.get(word) or (
        10 + _ZH_NUMBERS[word[1]] if len(word) == 2 and word[0] == "十" else 0)
    return _nth(n)(m, items)


def _span(m: re.Match, items: list[str]) -> list[str]:
    """前两项 / 后三个 / the first two / the last three (all of them when the answer has fewer)."""
    count = m.group("count").lower()
    n = min(_ZH_NUMBERS.get(count) or _EN_NUMBERS.get(count, 1), len(items))
    return items[:n] if m.group("end").lower() in ("前", "first") else items[-n:]


def _first(_m: re.Match, items: list[str]) -> list[str]:
    return items[:1]


def _last(_m: re.Match, items: list[str]) -> list[str]:
    return items[-1:]


# (pattern, picker): the first pattern that matches decides. The ordinal needs its classifier
# (第二条, not 第616号 or 第三方); "the second" needs a noun of items or the end of the clause.
_REFERENCES: list[tuple[re.Pattern, Picker]] = [
    (re.compile(r"(?P<end>前|后|最后)(?P<count>[一两二三四五])" + _CLASSIFIER), _span),
    (re.compile(r"\bthe\s+(?P<end>first|last)\s+(?P<count>one|two|three|four|five)\b", re.IGNORECASE), _span),
    (re.compile(r"第(?P<n>十?[一二三四五六七八九十]|\d{1,2})" + _CLASSIFIER), _ordinal),
    (re.compile(r"\bthe\s+(?P<n>first|second|third|fourth|fifth|sixth)(?:\s+" + _EN_ITEM + r"\b|(?=\s*[?.,!]|\s*$))",
                re.IGNORECASE), _ordinal),
    (re.compile(r"前者|前面(?:那|这)?一?" + _CLASSIFIER + r"|\bthe\s+former\b", re.IGNORECASE), _first),
    (re.compile(r"后者|(?:最?后面|最后)(?:那|这)?一?" + _CLASSIFIER + r"|\bthe\s+(?:latter|last"
                r"(?:\s+" + _EN_ITEM + r"\b|(?=\s*[?.,!]|\s*$)))", re.IGNORECASE), _last),
]
# "另一个城市" / "the other city": the place of the conversation the last question was not about.
_OTHER_PLACE = re.compile(r"另(?:外)?(?:一|那)(?:个|座)?" + _ZH_PLACE + r"|\bthe\s+other\s+" + _EN_PLACE + r"\b", re.IGNORECASE)
# "另一个" / "the other one": the item of the last answer the last question did not name.
_OTHER_ITEM = re.compile(r"另(?:外)?(?:一|那)" + _CLASSIFIER + r"|\bthe\s+other\s+" + _EN_ITEM + r"\b", re.IGNORECASE)


# A line of a list: "- …", "1. …", "（二）…", "二、…".
_LIST_LINE = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.、)）]|[（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]{1,3}、)"
                        r"\s*(?P<item>\S.*)$")
# Enumerations within a sentence: 一是……二是……, 首先……其次……, （一）……（二）……, ①……②……
_ENUMERATION = re.compile(r"[一二三四五六七八九十]是|首先|其次|再次|[（(][一二三四五六七八九十]{1,2}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]")
# Separators of a plain list, strongest first: a list is split at the first kind that gives two items.
_SEPARATORS = [re.compile(r"[；;\n]"), re.compile(r"、"), re.compile(r"[，,]\s*(?:and\s+)?|\s+and\s+"),
               re.compile(r"以及|和|及")]
_MARKER = re.compile(r"\s*\[\d+\]")
_TITLE = re.compile(r"《([^》]{4,200})》")
# A quoted line's label that names no topic ("第5段：", "一、(二) 二是：") is left out of the item.
_BARE_LABEL = re.compile(r"^(?:第\d+段|[一二三四五六七八九十\d、.()（）\s是]+)[：:]")
_SENTENCE_END = re.compile(r"[。！？!?]|……")
_ITEM_CHARS = 60
_LIST_PART_CHARS = 30  # an item stands for its line: the label and the first sentence, at most this long


def resolve_references(question: str, history: list[dict], lexicon: Lexicon) -> str:
    """The question with its reference ("第二条", "后两个", "the other city") replaced by what it
    points at, joined: "第二点具体怎么做？" after "一是信贷一体化，二是土地市场一体化" → "土地市场一体化
    具体怎么做？". Unchanged when nothing resolves (no reference, or an answer without items)."""
    answer = _last_text(history, "assistant")
    m = _OTHER_PLACE.search(question)
    picked = _other_place(history, lexicon) if m else []
    if not picked:
        items = answer_items(answer, lexicon)
        m, picked = _pick(question, items, _last_text(history, "user"), lexicon) if len(items) >= 2 else (None, [])
    if not m or not picked:
        return question
    joined = ("、" if detect_language(question) == "zh" else ", ").join(picked)
    return question[:m.start()] + joined + question[m.end():]


def rewound(question: str, history: list[dict], lexicon: Lexicon) -> list[dict]:
    """The conversation as it stood when the place "另一个城市" / "the other city" points at was
    discussed: the turns up to the answer to the last question naming it. The documents that
    conversation was about are the ones the follow-up returns to. ``history`` itself otherwise."""
    if not _OTHER_PLACE.search(question):
        return history
    picked = _other_place(history, lexicon)
    for i in range(len(history) - 1, -1, -1):
        turn = history[i]
        if picked and turn.get("role") == "user" and picked[0] in (turn.get("content") or ""):
            return history[:i + 2]
    return history


def named_documents(snap: Snapshot, text: str) -> list[str]:
    """The documents a turn names: by suggestion number ("第87号"), by the title an extractive answer
    heads its quotes with (《…》), or by the deputy who made the suggestion ("是凌毅代表提出的")."""
    out: dict[str, None] = {}
    for number in suggestion_numbers(text):
        out.update(dict.fromkeys(snap.by_number.get(number, [])))
    titles = set(_TITLE.findall(text))
    if titles:
        out.update(dict.fromkeys(d for d, record in snap.documents.items() if record.title in titles))
    for name, docs in snap.by_proposer.items():
        if name in text:
            out.update(dict.fromkeys(docs))
    return list(out)


def refers(question: str) -> bool:
    """Whether the question points at an item or a place by its position ("第二条", "the other city")."""
    return any(p.search(question) for p in [*(p for p, _ in _REFERENCES), _OTHER_PLACE, _OTHER_ITEM])


def answer_items(answer: str, lexicon: Lexicon) -> list[str]:
    """The items an answer lists, in order: its list lines (two or more), else the parts of an
    enumeration (一是……二是……), else the places it names (two or more), else the short parts of the
    list after its lead-in ("五个方面：甲、乙、丙")."""
    lines = [m.group("item") for line in answer.splitlines() if (m := _LIST_LINE.match(line))]
    if len(lines) >= 2:
        return [_short(line) for line in lines]
    text = _MARKER.sub("", lines[0] if lines else answer)  # one quoted line: its own enumeration
    parts = _ENUMERATION.split(text)
    if len(parts) >= 3:  # a lead-in, then two items or more
        return [item for part in parts[1:] if (item := _short(part))]
    places = lexicon.places_in(text)
    if len(places) >= 2:
        return places
    listed = re.split(r"[：:]", text, maxsplit=1)[-1]
    for separator in _SEPARATORS:
        items = [part.strip(" 。.（）()") for part in separator.split(listed)]
        items = [item for item in items if item]
        if len(items) >= 2:  # a list names things; long clauses between commas are no list
            return items if all(len(item) <= _LIST_PART_CHARS for item in items) else []
    return []


def _pick(question: str, items: list[str], asked: str, lexicon: Lexicon) -> tuple[re.Match | None, list[str]]:
    for pattern, picker in _REFERENCES:
        if m := pattern.search(question):
            return m, picker(m, items)
    if m := _OTHER_ITEM.search(question):
        # The other one is the one the last question did not name (of two, the one left).
        named = set(lexicon.query_terms(asked))
        rest = [item for item in items if not named & set(lexicon.query_terms(item))]
        if 0 < len(rest) < len(items):
            return m, rest
        return m, items[-1:] if len(items) == 2 else []
    return None, []


def _other_place(history: list[dict], lexicon: Lexicon) -> list[str]:
    """The places the conversation named before its last exchange, less those of the last one."""
    texts = [t.get("content") or "" for t in history]

    def places(text: str) -> list[str]:  # the lexicon's own places, then places elsewhere (德阳, 绍兴)
        return lexicon.places_in(text) + lexicon.other_places(text)

    recent = set(places("\n".join(texts[-2:])))
    earlier = [p for p in places("\n".join(texts[:-2])) if p not in recent]
    return list(dict.fromkeys(earlier))[-1:]


def _short(item: str) -> str:
    """A list line as a reference to it: no marker, no bare label, its first sentence."""
    item = _BARE_LABEL.sub("", _MARKER.sub("", item).strip()).strip(" ，,；;。")
    first = _SENTENCE_END.split(item, maxsplit=1)[0].strip(" ，,；;")
    return first[:_ITEM_CHARS]


def _last_text(history: list[dict], role: str) -> str:
    return next((t["content"] for t in reversed(history) if t.get("role") == role and t.get("content")), "")
