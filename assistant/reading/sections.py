"""The section tree of a document's body: labelled blocks nested by rank, enumerated items inside
them, and paragraphs where nothing is numbered.

Also the lines-with-offsets that every part of the parser works on. How the tree is represented
(the choices other stages rely on):

* Labels are kept as written (``（一）`` stays full-width in ``Section.label`` and ``text``); only
  ``Section.path`` normalises full-width brackets and dots, so ``("一、", "(一)", "二是")`` is the
  same path whichever way the author typed it. Gaps (一、 then 三、) are not errors.
* Block labels nest by a fixed rank — 第X章 < 第X节 < 第X条 < 一、 < (一) < 1. < (1) < ① — so a
  document may skip levels (``1.`` directly under ``一、``). A label whose number does not move
  forward from its previous sibling (``一、二线城市`` after ``三、``) is ordinary text. A Markdown
  ``## `` before a label belongs to the block; an unnumbered ``## 标题`` / ``### 小标题`` is a block
  of the rank of 一、 / (一), labelled by its heading text.
* Items inside a block's own text — 一是/二是, 第一，/第二，, 首先/其次/最后, bulleted lists — are
  found by ``items`` (whose docstring has the rules); at the top level of a body without blocks
  they are the top-level sections.
* **Leaves partition the text.** A node that has children *and* text of its own besides its heading
  (a lead paragraph before the first child, or text after the last inline item) gets that text as
  an extra child with ``label == ""`` and the *same path as the node*: the lead paragraph of 一、
  is cited as "一、", just as a reader would. A node whose own text is only its heading line gets
  no such child (the heading travels in every descendant chunk's heading path instead). Top-level
  text outside the introduction and the items is cut into paragraphs labelled ``第N段`` (N counted
  from the first line after the addressee), so every citation says where it stands; a body of one
  paragraph (a news text) stays the introduction.
* ``Section.text`` is ``raw.text[start:end]`` exactly, trimmed of surrounding white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.reading.items import chinese_number, find_items, make_section, trim
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


# ---- labels -------------------------------------------------------------------------------------------

_CN_DIGITS = "零〇一二三四五六七八九十百两"
_MD_PREFIX = r"(?:#{1,6}[ \t\u3000]*|\*\*)?"


@dataclass(frozen=True)
class Style:
    """A kind of block label (一、, (一), 1. …) and where it nests."""

    name: str
    rank: int  # smaller = outer
    pattern: re.Pattern[str]
    arabic: bool = False  # arabic lists may restart at 1 under the same parent
    titled: bool = False  # an unnumbered Markdown heading: its text is the label, counted in order


STYLES: tuple[Style, ...] = (
    Style("章", 0, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})章(?=[ \t\u3000]|$)")),
    Style("节", 1, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})节(?=[ \t\u3000]|$)")),
    Style("条", 2, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})条(?=[ \t\u3000]|$)")),
    Style("一、", 3, re.compile(_MD_PREFIX + r"([一二三四五六七八九十百]{1,4})、(?!、)")),
    Style("(一)", 4, re.compile(_MD_PREFIX + r"[（(][ \u3000]?([一二三四五六七八九十百]{1,4})[ \u3000]?[）)]")),
    Style("1.", 5, re.compile(_MD_PREFIX + r"(\d{1,2})(?:[.．](?!\d)|、)"), arabic=True),
    Style("(1)", 6, re.compile(_MD_PREFIX + r"[（(][ \u3000]?(\d{1,2})[ \u3000]?[）)]"), arabic=True),
    Style("①", 7, re.compile(_MD_PREFIX + r"([①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])")),
    # Unnumbered Markdown headings nest like the numbered levels they usually stand for ("#" is a title).
    *(Style("#" * level, level + 1, re.compile("#" * level + r"(?!#)[ \t\u3000]+\**([^#*]+?)\**[ \t#]*$"),
            titled=True) for level in (2, 3, 4)),
)
_PATH_FOLD = str.maketrans({"（": "(", "）": ")", "．": "."})


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


def body_sections(text: str, root: Node, intro_start: int, end: int,
                  count_from: int | None = None) -> tuple[Section | None, list[Section]]:
    """The introduction and the top-level sections of a body whose block tree is ``root``.

    Without block sections, inline items (一是……, 第一，……), if any, become the top-level sections;
    without those either, the paragraphs after the first (the introduction) do. Top-level text that
    is neither intro nor item is cut into paragraphs labelled by their place in the body (第3段),
    counted from ``count_from`` (the line after the addressee; default ``intro_start``).
    """
    intro: Section | None = None
    if root.children:
        intro_end = root.children[0].start
        if intro_end > intro_start and text[intro_start:intro_end].strip():
            intro = make_section(text, intro_start, intro_end)
        return intro, [_to_section(child, text) for child in root.children]
    paragraphs = split_lines(text, intro_start if count_from is None else count_from, end)
    items = find_items(text, intro_start, end)
    if not items:
        if len(paragraphs) <= 1:  # one paragraph (a news text): the whole body is the introduction
            return (make_section(text, intro_start, end) if text[intro_start:end].strip() else None), []
        return make_section(text, intro_start, paragraphs[1].start), _paragraphs(text, paragraphs, 1)
    first = items[0].start
    if text[intro_start:first].strip():
        intro = make_section(text, intro_start, first)
    out: list[Section] = []
    for section in _items_with_leftovers(text, items, intro_start, end, parent_path=(), include_lead=False):
        if section.label:
            out.append(section)
        else:
            first_line = next(i for i, line in enumerate(paragraphs) if line.end > section.start)
            out.extend(_paragraphs(text, paragraphs, first_line, section.end))
    return intro, out


def _paragraphs(text: str, paragraphs: list[Line], first: int, end: int | None = None) -> list[Section]:
    """Lines ``paragraphs[first:]`` (those before ``end``) as sections 第N段, N counted from the body's first line."""
    return [make_section(text, line.start, line.end, label=f"第{n}段", path=(f"第{n}段",))
            for n, line in enumerate(paragraphs[first:], first + 1) if end is None or line.start < end]


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
        depth = len(stack) - 1
        while stack[depth].rank >= style.rank:
            depth -= 1
        parent = stack[depth]
        previous = next((c for c in reversed(parent.children) if c.style is style), None)
        node = _new_node(style, match, line, parent, previous)
        if node is None:
            continue
        for closed in stack[depth + 1:]:
            closed.end = line.start
        del stack[depth + 1:]
        parent.children.append(node)
        stack.append(node)
    for node in stack[1:]:
        node.end = root.end


def _new_node(style: Style, match: re.Match[str], line: Line, parent: Node, previous: Node | None) -> Node | None:
    """The node a label line opens under ``parent``, or None when the line is ordinary text."""
    if style.titled:  # "## 办理情况": the heading is the label, the numbering its order
        node = Node(style=style, number=(previous.number if previous else 0) + 1, label=match.group(1).strip(),
                    start=line.start, content_start=line.end)
    else:
        number = chinese_number(match.group(1)) if style.name != "①" else ord(match.group(1)) - 0x245F
        if previous is not None and number <= previous.number and not (style.arabic and number == 1):
            return None  # numbering goes backwards: ordinary text that happens to start like a label
        if previous is None and number == 0:
            return None
        label = match.group(0).lstrip("#* \t\u3000")  # without a Markdown "## " / "**" prefix
        # The node starts at the line, so a Markdown "## " belongs to its heading, not to the text before.
        node = Node(style=style, number=number, label=label, start=line.start)
        node.heading, node.content_start = _heading(line, match.end(0))
    node.path = parent.path + (node.label.translate(_PATH_FOLD),)
    return node


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
    items = find_items(text, own_start, own_end)
    children: list[Section] = []
    if items:
        children.extend(_items_with_leftovers(text, items, own_start, own_end, node.path))
    elif node.children and text[own_start:own_end].strip():
        children.append(make_section(text, own_start, own_end, path=node.path))
    children.extend(_to_section(child, text) for child in node.children)
    section.children = children
    return section
