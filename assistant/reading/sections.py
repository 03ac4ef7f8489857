"""The section tree of a document's body: labelled blocks nested by rank, inline 一是/二是 items.

Also the lines-with-offsets that every part of the parser works on. How the tree is represented
(the choices other stages rely on):

* Labels are kept as written (``（一）`` stays full-width in ``Section.label`` and ``text``); only
  ``Section.path`` normalises full-width brackets and dots, so ``("一、", "(一)", "二是")`` is the
  same path whichever way the author typed it. Gaps (一、 then 三、) are not errors.
* Block labels nest by a fixed rank — 第X章 < 第X节 < 第X条 < 一、 < (一) < 1. < (1) < ① — so a
  document may skip levels (``1.`` directly under ``一、``). A label whose number does not move
  forward from its previous sibling (``一、二线城市`` after ``三、``) is ordinary text.
* Inline enumerations ``一是……二是……`` count only at a paragraph start or right after 。；;：:！？
  (so "统一是" is not a label), need at least 一是 and 二是 in order, and each item runs from its
  label to just before the next label; the last item ends with its paragraph.
* **Leaves partition the text.** A node that has children *and* text of its own besides its heading
  (a lead paragraph before the first child, or text after the last inline item) gets that text as
  an extra child with ``label == ""`` and the *same path as the node*: the lead paragraph of 一、
  is cited as "一、", just as a reader would. A node whose own text is only its heading line gets
  no such child (the heading travels in every descendant chunk's heading path instead).
* ``Section.text`` is ``raw.text[start:end]`` exactly, trimmed of surrounding white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.schema import Section
from assistant.text import split_sentences

__all__ = ["SPACE", "TERMINATORS", "Line", "Node", "block_tree", "body_sections", "chinese_number",
           "label_match", "make_section", "split_lines"]

TERMINATORS = set("。！？；!?;")
SPACE = " \t\u3000\u00a0"


# ---- lines --------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One non-blank line of the text, trimmed, with its offsets in the text."""

    start: int  # offset of the first non-space character
    end: int  # offset after the last non-space character
    text: str


def split_lines(text: str, start: int = 0, end: int | None = None) -> list[Line]:
    """The non-blank lines of ``text[start:end]``."""
    end = len(text) if end is None else end
    out: list[Line] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        raw = text[pos:stop]
        stripped = raw.strip(SPACE + "\r\ufeff")
        if stripped:
            lead = len(raw) - len(raw.lstrip(SPACE + "\r\ufeff"))
            out.append(Line(pos + lead, pos + lead + len(stripped), stripped))
        pos = stop + 1
    return out


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


# ---- labels -------------------------------------------------------------------------------------------

_CN_DIGITS = "零〇一二三四五六七八九十百两"
_CN_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_MD_PREFIX = r"(?:#{1,6}[ \t\u3000]*|\*\*)?"


@dataclass(frozen=True)
class Style:
    """A kind of block label (一、, (一), 1. …) and where it nests."""

    name: str
    rank: int  # smaller = outer
    pattern: re.Pattern[str]
    arabic: bool = False  # arabic lists may restart at 1 under the same parent


STYLES: tuple[Style, ...] = (
    Style("章", 0, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})章(?=[ \t\u3000]|$)")),
    Style("节", 1, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})节(?=[ \t\u3000]|$)")),
    Style("条", 2, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})条(?=[ \t\u3000]|$)")),
    Style("一、", 3, re.compile(_MD_PREFIX + r"([一二三四五六七八九十百]{1,4})、(?!、)")),
    Style("(一)", 4, re.compile(_MD_PREFIX + r"[（(][ \u3000]?([一二三四五六七八九十百]{1,4})[ \u3000]?[）)]")),
    Style("1.", 5, re.compile(_MD_PREFIX + r"(\d{1,2})(?:[.．](?!\d)|、)"), arabic=True),
    Style("(1)", 6, re.compile(_MD_PREFIX + r"[（(][ \u3000]?(\d{1,2})[ \u3000]?[）)]"), arabic=True),
    Style("①", 7, re.compile(_MD_PREFIX + r"([①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])")),
)
_ITEM = re.compile(r"([一二三四五六七八九十]{1,3})是")
_ITEM_AFTER = set("。；;：:！？!?")
_PATH_FOLD = str.maketrans({"（": "(", "）": ")", "．": "."})


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


# ---- the tree -----------------------------------------------------------------------------------------


@dataclass
class Node:
    """A labelled block while the tree is built (the root has no style); becomes a Section."""

    style: Style | None
    number: int
    label: str
    start: int
    end: int = 0
    heading: str = ""
    content_start: int = 0  # where the node's own text (after its heading) begins
    children: list[Node] = field(default_factory=list)
    path: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return -1 if self.style is None else self.style.rank


def block_tree(text: str, body_lines: list[Line], start: int, end: int) -> Node:
    """The labelled blocks of ``text[start:end]`` as a tree under a root node, trimmed to their text."""
    root = Node(style=None, number=0, label="", start=start, end=end, content_start=start)
    _build_block_tree(root, body_lines)
    _close(root, text)
    return root


def body_sections(text: str, root: Node, intro_start: int, end: int) -> tuple[Section | None, list[Section]]:
    """The introduction and the top-level sections of a body whose block tree is ``root``.

    Without block sections, inline items (一是……二是……), if any, become the top-level sections.
    """
    intro: Section | None = None
    if root.children:
        intro_end = root.children[0].start
        if intro_end > intro_start and text[intro_start:intro_end].strip():
            intro = make_section(text, intro_start, intro_end)
        return intro, [_to_section(child, text) for child in root.children]
    items = _find_items(text, intro_start, end)
    if not items:
        return (make_section(text, intro_start, end) if text[intro_start:end].strip() else None), []
    first = items[0].start
    if text[intro_start:first].strip():
        intro = make_section(text, intro_start, first)
    return intro, _items_with_leftovers(text, items, intro_start, end, parent_path=(), include_lead=False)


def label_match(line: str) -> tuple[Style, re.Match[str]] | None:
    for style in STYLES:
        match = style.pattern.match(line)
        if match:
            return style, match
    return None


def _build_block_tree(root: Node, body_lines: list[Line]) -> None:
    stack = [root]
    for line in body_lines:
        found = label_match(line.text)
        if found is None:
            continue
        style, match = found
        number = chinese_number(match.group(1)) if style.name != "①" else ord(match.group(1)) - 0x245F
        depth = len(stack) - 1
        while stack[depth].rank >= style.rank:
            depth -= 1
        parent = stack[depth]
        previous = next((c for c in reversed(parent.children) if c.style is style), None)
        if previous is not None and number <= previous.number and not (style.arabic and number == 1):
            continue  # numbering goes backwards: ordinary text that happens to start like a label
        if previous is None and number == 0:
            continue
        label = match.group(0).lstrip("#* \t\u3000")  # without a Markdown "## " / "**" prefix
        label_start = line.start + match.end(0) - len(label)
        node = Node(style=style, number=number, label=label, start=label_start)
        node.path = parent.path + (label.translate(_PATH_FOLD),)
        node.heading, node.content_start = _heading(line, match.end(0))
        for closed in stack[depth + 1:]:
            closed.end = line.start
        del stack[depth + 1:]
        parent.children.append(node)
        stack.append(node)
    for node in stack[1:]:
        node.end = root.end


def _heading(line: Line, label_len: int) -> tuple[str, int]:
    """The heading after a label and the offset where the node's own text starts.

    A label line with one sentence is all heading ("(一)加快与黔南协作联动"); with several, the
    first sentence is the heading when it is short ("（一）大力推进……新质生产力。充分发挥……").
    """
    rest = line.text[label_len:]
    lead = len(rest) - len(rest.lstrip(SPACE))
    rest = rest.strip(SPACE)
    rest_start = line.start + label_len + lead
    if not rest:
        return "", line.end
    sentences = split_sentences(rest)
    if len(sentences) <= 1:
        heading = rest.rstrip("。；;：:")
        return (heading if len(heading) <= 120 else ""), (line.end if len(heading) <= 120 else rest_start)
    first_end = sentences[0][1]
    heading = rest[:first_end].rstrip("。！？；!?;：:")
    if len(heading) <= 60:
        return heading, rest_start + first_end
    return "", rest_start


def _close(node: Node, text: str) -> None:
    """Trim node ends to their text and recurse."""
    for child in node.children:
        _close(child, text)
    if node.style is not None:
        node.start, node.end = trim(text, node.start, node.end)


def _find_items(text: str, start: int, end: int) -> list[Section]:
    """Inline enumerations 一是……二是…… in ``text[start:end]`` as item sections (paths unset)."""
    candidates: list[tuple[int, int]] = []  # (offset, number)
    for match in _ITEM.finditer(text, start, end):
        pos = match.start()
        if not _item_position_ok(text, start, pos):
            continue
        number = chinese_number(match.group(1))
        if number:
            candidates.append((pos, number))
    runs: list[list[int]] = []
    current: list[int] = []
    last = 0
    for pos, number in candidates:
        if number == 1:
            if len(current) >= 2:
                runs.append(current)
            current, last = [pos], 1
        elif current and number == last + 1:
            current.append(pos)
            last = number
    if len(current) >= 2:
        runs.append(current)
    items: list[Section] = []
    for r, run in enumerate(runs):
        run_end = runs[r + 1][0] if r + 1 < len(runs) else end
        for i, pos in enumerate(run):
            if i + 1 < len(run):
                stop = run[i + 1]
            else:  # the last item ends with its paragraph (and before the next enumeration)
                nl = text.find("\n", pos, run_end)
                stop = run_end if nl == -1 else nl
            label_end = text.index("是", pos) + 1
            items.append(make_section(text, pos, stop, label=text[pos:label_end]))
    return items


def _item_position_ok(text: str, region_start: int, pos: int) -> bool:
    """An item label counts at the region start, a paragraph start, or right after a sentence end."""
    i = pos - 1
    while i >= region_start and text[i] in SPACE:
        i -= 1
    return i < region_start or text[i] == "\n" or text[i] in _ITEM_AFTER


def _items_with_leftovers(text: str, items: list[Section], start: int, end: int,
                          parent_path: tuple[str, ...], include_lead: bool = True) -> list[Section]:
    """Items plus the text around them as ``label == ""`` nodes with the parent's path."""
    out: list[Section] = []
    cursor = start
    for item in items:
        if cursor < item.start and text[cursor:item.start].strip() and (include_lead or out):
            out.append(make_section(text, cursor, item.start, path=parent_path))
        item.path = parent_path + (item.label,)
        out.append(item)
        cursor = item.end
    if cursor < end and text[cursor:end].strip():
        out.append(make_section(text, cursor, end, path=parent_path))
    return out


def _to_section(node: Node, text: str) -> Section:
    section = Section(label=node.label, heading=node.heading, text=text[node.start:node.end],
                      start=node.start, end=node.end, path=node.path)
    own_end = node.children[0].start if node.children else node.end
    own_start = min(max(node.content_start, node.start), own_end)
    items = _find_items(text, own_start, own_end)
    children: list[Section] = []
    if items:
        children.extend(_items_with_leftovers(text, items, own_start, own_end, node.path))
    elif node.children and text[own_start:own_end].strip():
        children.append(make_section(text, own_start, own_end, path=node.path))
    children.extend(_to_section(child, text) for child in node.children)
    section.children = children
    return section
