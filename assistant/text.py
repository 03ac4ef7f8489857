"""Text utilities shared by parsing, chunking, retrieval and citation checking.

Three small jobs, each with one rule that every stage must agree on:

* :func:`match_form` — the *matching* form of a text (never shown to anyone): NFKC with all white
  space removed, so that "第616号" typed with full-width digits or a stray space still matches —
  the question-file contract by which a gold phrase matches a chunk; :func:`normalize_for_match`
  also folds CJK punctuation and case, for texts written by different hands (an LLM's claim and
  its source, a reply ingested twice);
* :func:`split_sentences` — sentence spans as offsets, so callers can highlight or cut the text
  as written;
* :func:`detect_language` — whether a question is Chinese or English, to answer in kind.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["detect_language", "is_cjk", "match_form", "normalize_for_match", "split_sentences"]

# NFKC already folds the full-width ASCII block (，：；（）！？ＡＢ１２ …) and the ideographic
# space; these are the CJK punctuation marks it leaves alone.
_PUNCT_FOLD = str.maketrans({
    "。": ".", "、": ",", "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "《": "<", "》": ">",
    "〈": "<", "〉": ">", "【": "[", "】": "]", "〔": "[", "〕": "]", "〖": "[", "〗": "]",
    "「": '"', "」": '"', "『": '"', "』": '"', "—": "-", "–": "-", "―": "-", "－": "-",
    "·": ".", "・": ".", "…": "...", "～": "~", "〜": "~",
})
_WHITESPACE = re.compile(r"\s+")


def match_form(text: str | None) -> str:
    """NFKC, then every white-space character removed: the one matching form.

    NFKC folds full-width letters, digits and punctuation (``（一）`` → ``(一)``), so a phrase
    copied from a PDF or typed on a phone matches the reply as written.

    >>> match_form("（一） 加快　与黔南 协作")
    '(一)加快与黔南协作'
    """
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text or ""))


def normalize_for_match(text: str) -> str:
    """:func:`match_form` with CJK punctuation folded to ASCII and lower case: for comparing texts
    that may differ in punctuation style or case (citation support, de-duplication).

    >>> normalize_for_match("第６１６号 （贵阳）“强省会”。")
    '第616号(贵阳)"强省会".'
    """
    return match_form(text).translate(_PUNCT_FOLD).lower()


# ---- sentences ----------------------------------------------------------------------------------

_TERMINATORS = set("。！？；!?;")
# Closing marks that stay with the sentence they end: 。” ！） ?』 …
_TRAILERS = set("”’」』》）)】〕\"'")
_PAIRS = {"（": "）", "(": ")", "“": "”", "‘": "’", "《": "》", "「": "」", "『": "』", "【": "】",
          "〔": "〕", "[": "]"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}
_AMBIGUOUS_QUOTES = {'"', "'"}  # open and close with the same character
_QUOTE_CLOSERS = set("”’」』")


def _protected_mask(line: str) -> list[bool]:
    """Which characters of one line sit inside a *matched* bracket or quote pair.

    Only pairs that close on the same line protect their content, so a stray “ cannot swallow
    the rest of a paragraph.
    """
    mask = [False] * len(line)
    stack: list[tuple[str, int]] = []
    for i, ch in enumerate(line):
        if ch in _AMBIGUOUS_QUOTES:
            if stack and stack[-1][0] == ch:
                _, start = stack.pop()
                for j in range(start + 1, i):
                    mask[j] = True
            else:
                stack.append((ch, i))
        elif ch in _PAIRS:
            stack.append((ch, i))
        elif ch in _CLOSERS:
            opener = _CLOSERS[ch]
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == opener:
                    start = stack[depth][1]
                    del stack[depth:]  # openers left unclosed inside are dropped
                    for j in range(start + 1, i):
                        mask[j] = True
                    break
    return mask


def _is_english_period(line: str, i: int) -> bool:
    """An ASCII full stop ends a sentence when followed by white space (or the line end) after a word."""
    if line[i] != ".":
        return False
    after = line[i + 1] if i + 1 < len(line) else " "
    before = line[i - 1] if i > 0 else ""
    return after.isspace() and (before.isalpha() or before in "\"')]") and before.isascii()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``: ``text[start:end]`` is one sentence.

    Sentences end at 。！？；!?; (and an English ". "), keeping the terminator and any closing
    quote or bracket that follows it (``。”``); a line break always ends a sentence. Terminators
    inside a matched （…）, (…), “…”, 《…》 on the same line do not split, except one that ends
    the quotation itself (``他说：“好。”`` ends there, as Chinese punctuation places it). Spans are trimmed of
    surrounding white space and blank ones are dropped, so they need not be contiguous.

    >>> t = "一是加强组织协调。二是强化“规划；协同”。\\n三是"
    >>> [t[a:b] for a, b in split_sentences(t)]
    ['一是加强组织协调。', '二是强化“规划；协同”。', '三是']
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        mask = _protected_mask(line)
        start = 0
        i = 0
        n = len(line)
        while i < n:
            ch = line[i]
            if (not mask[i] and (ch in _TERMINATORS or _is_english_period(line, i))) or _ends_quote(line, mask, i):
                end = i + 1
                while end < n and (line[end] in _TERMINATORS or line[end] in _TRAILERS):
                    end += 1
                _add_span(spans, line, pos, start, end)
                start = i = end
                continue
            i += 1
        _add_span(spans, line, pos, start, n)
        pos += n
    return spans


def _ends_quote(line: str, mask: list[bool], i: int) -> bool:
    """A terminator right before the closing quote of a quotation ends the sentence: “……。”"""
    if line[i] not in _TERMINATORS or not mask[i]:
        return False
    j = i + 1
    while j < len(line) and line[j] in _TERMINATORS:
        j += 1
    return j < len(line) and line[j] in _QUOTE_CLOSERS and not mask[j]


def _add_span(spans: list[tuple[int, int]], line: str, offset: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    spans.append((offset + start + lead, offset + start + lead + len(stripped)))


# ---- language -----------------------------------------------------------------------------------


def is_cjk(ch: str) -> bool:
    """A CJK ideograph (basic block, extension A, compatibility ideographs)."""
    code = ord(ch)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def detect_language(text: str) -> str:
    """``"zh"`` when CJK characters make up a meaningful share of the letters, else ``"en"``.

    Latin letters are counted per word (a word carries about as much as one or two hanzi), so
    "介绍一下RAG" is Chinese and "What does 惠水 get?" is English. Text with no letters at all
    (numbers, punctuation, empty) counts as Chinese, the corpus language.

    >>> detect_language("惠水有哪些安排？"), detect_language("What about Huishui?")
    ('zh', 'en')
    """
    cjk = sum(1 for ch in text if is_cjk(ch))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    if cjk == 0 and latin_words == 0:
        return "zh"
    return "zh" if cjk >= 2 * latin_words else "en"
