"""Enumerations inside a block's text: 一是/二是, 第一，/第二，, 首先/其次/再次/最后, and bulleted lists.

Each scheme is found the same way (see ``sections`` for how items sit in the tree):

* 一是 counts at the region start, a paragraph start or right after 。；;：:！？ (so "统一是" is not
  a label); 第一，, 首先， and bullets (``-``, ``*``, ``•``) only at a paragraph start — in running
  prose "首先，…其次，…" is rhetoric, not the document's structure.
* A run needs at least its first two items in order (一是 then 二是; 首先 then 其次); a later label
  that does not continue the count is ordinary text. 最后 closes a 首先/其次 run.
* Each item runs from its label to just before the next label; the last item of a run ends with
  its paragraph (or where the next run starts). Runs may follow each other but never nest: a run
  that starts before the previous run's last item is ordinary text (第一，…一是…二是…第二， is
  one run of two items).
* Labels are the words as written (一是, 第一, 首先); bullets, which have no written number, are
  labelled by position: 第1项, 第2项 …
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.schema import Section

__all__ = ["chinese_number", "find_items", "make_section", "trim"]

_ITEM_AFTER = set("。；;：:！？!?")
_SPACE = " \t\u3000\u00a0"
_LAST = -1  # 最后 may close a run of any length ≥ 2 (no count goes on after it)
_ORDINALS = {"首先": 1, "其次": 2, "再次": 3, "最后": _LAST}
_CN_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}


def chinese_number(text: str) -> int:
    """``"二十九"`` → 29, ``"十一"`` → 11, ``"三"`` → 3, ``"12"`` → 12 (0 when unparseable)."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_VALUES:
            current = _CN_VALUES[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return 0
    return total + current


@dataclass(frozen=True)
class _Scheme:
    pattern: re.Pattern[str]  # group "label" is the label as written
    number: Callable[[str], int]
    line_start: bool = True  # only at a paragraph start (else also right after a sentence end)
    bullet: bool = False  # numbered by position in its list of consecutive lines


_SCHEMES: tuple[_Scheme, ...] = (
    _Scheme(re.compile(r"(?P<label>(?P<n>[一二三四五六七八九十]{1,3})是)"), chinese_number, line_start=False),
    _Scheme(re.compile(r"(?P<label>第(?P<n>[一二三四五六七八九十]{1,3}))(?=[，,、：:])"), chinese_number),
    _Scheme(re.compile(r"(?P<label>(?P<n>首先|其次|再次|最后))(?=[，,：:])"), _ORDINALS.__getitem__),
    _Scheme(re.compile(r"(?P<label>[-*+•·])(?P<n>)[ \t\u3000]"), lambda _: 0, bullet=True),
)


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` to exclude surrounding white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def make_section(text: str, start: int, end: int, label: str = "", heading: str = "",
                 path: tuple[str, ...] = ()) -> Section:
    """The Section for ``text[start:end]``, trimmed of surrounding white space."""
    start, end = trim(text, start, end)
    return Section(label=label, heading=heading, text=text[start:end], start=start, end=end, path=path)


def find_items(text: str, start: int, end: int) -> list[Section]:
    """The enumerated items in ``text[start:end]`` as sections (paths unset), in order."""
    runs = sorted((run for scheme in _SCHEMES for run in _runs(scheme, text, start, end)),
                  key=lambda run: run[0][0])
    kept: list[list[tuple[int, str]]] = []
    for run in runs:  # no nesting: a run that starts before the last kept run's last item is text
        if not kept or run[0][0] > kept[-1][-1][0]:
            kept.append(run)
    items: list[Section] = []
    for r, run in enumerate(kept):
        run_end = kept[r + 1][0][0] if r + 1 < len(kept) else end
        for i, (pos, label) in enumerate(run):
            stop = run[i + 1][0] if i + 1 < len(run) else _paragraph_end(text, pos, run_end)
            items.append(make_section(text, pos, stop, label=label))
    return items


def _paragraph_end(text: str, pos: int, end: int) -> int:
    nl = text.find("\n", pos, end)
    return end if nl == -1 else nl


def _runs(scheme: _Scheme, text: str, start: int, end: int) -> list[list[tuple[int, str]]]:
    """Runs of ≥ 2 items numbered 1, 2, 3 … (labels that do not continue the count are skipped)."""
    runs: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    last = 0
    for pos, number, label in _candidates(scheme, text, start, end):
        if number == 1:
            if len(current) >= 2:
                runs.append(current)
            current, last = [(pos, label)], 1
        elif current and (number == last + 1 or (number == _LAST and last >= 2)):
            current.append((pos, label))
            last = number
    if len(current) >= 2:
        runs.append(current)
    return runs


def _candidates(scheme: _Scheme, text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """(offset, number, label) of every label of ``scheme`` in a position where it counts."""
    out: list[tuple[int, int, str]] = []
    bullet = 0
    previous_line = -1
    for match in scheme.pattern.finditer(text, start, end):
        pos = match.start()
        if not _position_ok(text, start, pos, scheme.line_start):
            continue
        if scheme.bullet:  # bullets count up while the list goes on, line after line
            line_start = text.rfind("\n", start, pos) + 1
            contiguous = previous_line >= 0 and not text[previous_line:line_start].strip("\n" + _SPACE + "\r")
            bullet = bullet + 1 if contiguous else 1
            previous_line = _paragraph_end(text, pos, end)
            out.append((pos, bullet, f"第{bullet}项"))
        else:
            number = scheme.number(match.group("n"))
            if number:
                out.append((pos, number, match.group("label")))
    return out


def _position_ok(text: str, region_start: int, pos: int, line_start: bool) -> bool:
    """A label counts at the region start, a paragraph start, or (unless ``line_start``) after a sentence end."""
    i = pos - 1
    while i >= region_start and text[i] in _SPACE + "\r":
        i -= 1
    return i < region_start or text[i] == "\n" or (not line_start and text[i] in _ITEM_AFTER)
