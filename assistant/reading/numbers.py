"""Suggestion and proposal numbers ("第616号"): the one rule for reading them, wherever they are written.

The parser reads them from header fields and titles, the retriever from questions, follow-ups and
filters, the API from what a client sends; all of them come here, so that 第６１６号, 第0616号,
第 616 号, 616号建议 and "No. 616" are one number, written ``第616号`` (the index's key). It lives
in ``reading/`` because the documents are where the numbers come from; later stages read them the
same way.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["SUGGESTION_NUMBER", "normalize_suggestion_no", "suggestion_numbers"]

#: A suggestion number named in running text (a question, a title), matched on NFKC text (which
#: folds full-width digits, spaces and "Ｎｏ．"). The digits are in one of the three groups:
#: ``第616号`` as replies write it; ``616号`` only before 建议/提案/议案, since a bare "3号" is
#: usually something else (a bus line "3号线", a document "国发〔2022〕2号"); ``No. 616`` in English.
SUGGESTION_NUMBER = re.compile(
    r"第\s*([0-9]+)\s*号"
    r"|(?<![0-9〕\]])([0-9]+)\s*号(?=\s*(?:代表|委员)?(?:建议|提案|议案))"
    r"|\bNo\.\s*([0-9]+)\b",
    re.IGNORECASE,
)
# A value that is known to be a number (a header field, a filter): "616号", else "0616", "616".
_NUMBER_HAO = re.compile(r"([0-9]+)\s*号")
_DIGITS = re.compile(r"([0-9]+)")


def _canonical(digits: str) -> str:
    # Not int(): a hostile 5,000-digit "number" would exceed Python's int-from-string limit.
    return f"第{digits.lstrip('0') or '0'}号"


def suggestion_numbers(text: str) -> list[str]:
    """The suggestion numbers named in ``text``, canonical, each once, in order.

    >>> suggestion_numbers("第６１６号和0617号建议，还有 No. 618")
    ['第616号', '第617号', '第618号']
    >>> suggestion_numbers("2023年第3条规定的616万元，3号线")
    []
    """
    text = unicodedata.normalize("NFKC", text)
    found = (_canonical(next(g for g in m.groups() if g)) for m in SUGGESTION_NUMBER.finditer(text))
    return list(dict.fromkeys(found))


def normalize_suggestion_no(value: str) -> str:
    """A number as a header field or a filter writes it → ``第616号`` ("" if it holds no number).

    ``"616"``, ``"0616"``, ``"616号"``, ``"第 616 号"``, ``"第０６１６号"``, ``"No. 616"`` and
    ``"黔人大建〔2022〕第616号"`` all give ``"第616号"``.
    """
    named = suggestion_numbers(value)
    if named:
        return named[0]
    value = unicodedata.normalize("NFKC", value)
    match = _NUMBER_HAO.search(value) or _DIGITS.search(value)
    return _canonical(match.group(1)) if match else ""
