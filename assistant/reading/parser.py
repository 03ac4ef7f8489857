"""The reply parser: :class:`RawText` → :class:`ReplyDocument` (header fields + a section tree).

A reply to a deputy's suggestion reads like this (the seed, abridged)::

    贵阳市人民政府关于……第616号代表建议的答复          ← title line
    代表提案者: 凌毅                                    ← header fields ("name: value")
    ……
    答复内容:
    凌毅代表:                                           ← addressee
    您提出的《……》收悉。现将办理情况答复如下:            ← intro
    一、关于“……”的建议                                  ← level-1 heading
    目前，我市拟定了……                                  ← its lead paragraph
    (一)加快与黔南协作联动                              ← level-2 heading
    一是构建……。二是探索……。三是谋划……。              ← inline items, one paragraph
    三、关于“……”的建议                                  ← numbering gaps are kept as written
    ……
    衷心感谢并欢迎您继续关心……                          ← closing

How the tree is represented (the choices other stages rely on):

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

from assistant.reading.loaders import RawText
from assistant.reading.numbers import normalize_suggestion_no, suggestion_numbers
from assistant.schema import ReplyDocument, Section
from assistant.text import split_sentences

__all__ = ["FIELD_ALIASES", "chinese_number", "parse_reply"]

# ---- header fields ----------------------------------------------------------------------------------

#: Canonical header field → the names it is written under. ``ReplyDocument.fields`` is keyed by
#: the canonical name (values as written), so consumers need not know the variants.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "代表提案者": ("代表提案者", "提案代表", "领衔代表", "代表姓名", "提案者", "提案人", "建议人",
                   "提出人", "领衔人", "提案委员", "委员姓名"),
    "会议届次": ("会议届次", "会议名称", "届次"),
    "建议提案标题": ("建议提案标题", "建议标题", "提案标题", "建议名称", "提案名称", "案由"),
    "建议提案编号": ("建议提案编号", "建议编号", "提案编号", "建议号", "提案号", "编号"),
    "主办单位": ("主办单位", "承办单位", "主办"),
    "会办单位": ("会办单位", "协办单位", "会办", "协办"),
    "复文标题": ("复文标题", "答复标题", "复文名称"),
    "答复内容": ("答复内容", "复文内容", "答复正文", "正文"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
_FIELD_LINE = re.compile(
    r"^(?P<name>" + "|".join(sorted(map(re.escape, _ALIAS_TO_FIELD), key=len, reverse=True)) + r")"
    r"[ \u3000]*(?:[:：]|\t|[ \u3000]{2,})[ \t\u3000]*(?P<value>.*)$"
)
_BODY_FIELD = "答复内容"
# Publication metadata that web pages print between the title and the fields.
_META_LINE = re.compile(r"^(发布时间|发布日期|发文日期|成文日期|来源|信息来源|索引号|文号|发文机关|浏览次数|访问次数)[:：]")

# ---- labels -------------------------------------------------------------------------------------------

_CN_DIGITS = "零〇一二三四五六七八九十百两"
_CN_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_MD_PREFIX = r"(?:#{1,6}[ \t\u3000]*|\*\*)?"


@dataclass(frozen=True)
class _Style:
    name: str
    rank: int  # smaller = outer
    pattern: re.Pattern[str]
    arabic: bool = False  # arabic lists may restart at 1 under the same parent


_STYLES: tuple[_Style, ...] = (
    _Style("章", 0, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})章(?=[ \t\u3000]|$)")),
    _Style("节", 1, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})节(?=[ \t\u3000]|$)")),
    _Style("条", 2, re.compile(_MD_PREFIX + r"第([" + _CN_DIGITS + r"\d]{1,4})条(?=[ \t\u3000]|$)")),
    _Style("一、", 3, re.compile(_MD_PREFIX + r"([一二三四五六七八九十百]{1,4})、(?!、)")),
    _Style("(一)", 4, re.compile(_MD_PREFIX + r"[（(][ \u3000]?([一二三四五六七八九十百]{1,4})[ \u3000]?[）)]")),
    _Style("1.", 5, re.compile(_MD_PREFIX + r"(\d{1,2})(?:[.．](?!\d)|、)"), arabic=True),
    _Style("(1)", 6, re.compile(_MD_PREFIX + r"[（(][ \u3000]?(\d{1,2})[ \u3000]?[）)]"), arabic=True),
    _Style("①", 7, re.compile(_MD_PREFIX + r"([①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])")),
)
_ITEM = re.compile(r"([一二三四五六七八九十]{1,3})是")
_ITEM_AFTER = set("。；;：:！？!?")
_PATH_FOLD = str.maketrans({"（": "(", "）": ")", "．": "."})

# ---- closing, addressee, title ------------------------------------------------------------------------

_CLOSING_PHRASE = re.compile(
    r"^(衷心感谢|非常感谢|再次感谢|感谢您|谢谢|特此答复|特此函复|特此复函|特此回复|此复|专此答复|专此函复|"
    r"以上答复|欢迎您?继续|希望您?继续|恳请您?继续)"
)
_CONTACT_LINE = re.compile(r"^[（(]?(联系人|联系电话|联系单位|联系方式|经办人|承办人|抄送|签发人|承办处室)[:：]")
_DATE_LINE = re.compile(
    r"^[（(]?[ \u3000]*([12]\d{3}|[〇○零一二三四五六七八九]{4})[ \u3000]*年[ \u3000]*[\d〇○零一二三四五六七八九十]{1,2}"
    r"[ \u3000]*月[ \u3000]*[\d〇○零一二三四五六七八九十]{1,3}[ \u3000]*日[ \u3000]*[）)]?$"
)
_SIGNATURE_LINE = re.compile(
    r"^[^。！？；!?;，,]{2,30}(人民政府|政府|局|委员会|委|办公室|办公厅|厅|部|院|中心|公司|协会|管委会|办事处|"
    r"集团|分局|支队|大队|银行|学校|医院)([（(][^）)]{0,10}[）)])?$"
)
_ADDRESSEE_WORDS = re.compile(r"代表|委员|同志|先生|女士|老师|您好")
_NOT_ADDRESSEE = re.compile(r"如下|答复|回复|情况|意见|建议")
_SESSION = re.compile(
    r"((?:全国|省|市|州|区|县|自治区)?(?:第)?[一二三四五六七八九十]{1,3}届(?:全国)?(?:人大|人民代表大会|政协)?"
    r"(?:常委会)?(?:第)?[一二三四五六七八九十]{1,3}次(?:全体)?会议)"
)
_TERMINATORS = set("。！？；!?;")
_SPACE = " \t\u3000\u00a0"


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


# ---- lines --------------------------------------------------------------------------------------------


@dataclass
class _Line:
    start: int  # offset of the first non-space character
    end: int  # offset after the last non-space character
    text: str


def _lines(text: str, start: int = 0, end: int | None = None) -> list[_Line]:
    end = len(text) if end is None else end
    out: list[_Line] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        raw = text[pos:stop]
        stripped = raw.strip(_SPACE + "\r\ufeff")
        if stripped:
            lead = len(raw) - len(raw.lstrip(_SPACE + "\r\ufeff"))
            out.append(_Line(pos + lead, pos + lead + len(stripped), stripped))
        pos = stop + 1
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` to exclude surrounding white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _section(text: str, start: int, end: int, label: str = "", heading: str = "",
             path: tuple[str, ...] = ()) -> Section:
    start, end = _trim(text, start, end)
    return Section(label=label, heading=heading, text=text[start:end], start=start, end=end, path=path)


# ---- the parser ---------------------------------------------------------------------------------------


@dataclass
class _Node:
    style: _Style | None
    number: int
    label: str
    start: int
    end: int = 0
    heading: str = ""
    content_start: int = 0  # where the node's own text (after its heading) begins
    children: list[_Node] = field(default_factory=list)
    path: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return -1 if self.style is None else self.style.rank


def parse_reply(raw: RawText) -> ReplyDocument:
    """Parse a reply (or any document) into header fields and a section tree.

    Works on documents without a header too (work reports, news): the title comes from the first
    line when it looks like one, sections are found where they exist, and otherwise the whole
    body is the introduction.
    """
    text = raw.text
    lines = _lines(text)
    fields, title_line, body_start = _parse_header(text, lines)
    body_lines = _lines(text, body_start)  # the body may start mid-line ("答复内容：XX代表：")
    closing_start = _closing_start(body_lines, len(text))
    body_lines = [line for line in body_lines if line.start < closing_start]

    doc = ReplyDocument(doc_id=raw.doc_id, title="", text=text, source=raw.source,
                        metadata=dict(raw.metadata))
    doc.fields = fields
    doc.title = _title(raw, fields, title_line, body_lines, text)

    root = _Node(style=None, number=0, label="", start=body_start, end=closing_start,
                 content_start=body_start)
    _build_block_tree(root, body_lines)
    _close(root, text)

    # The addressee is the first body line when it reads "XX代表：", or an early "各位代表：".
    addressee_line = _find_addressee(body_lines, root)
    if addressee_line is not None:
        doc.addressee = _section(text, addressee_line.start, addressee_line.end)
    intro_start = body_start
    if addressee_line is not None and body_lines and addressee_line is body_lines[0]:
        intro_start = addressee_line.end
    intro_end = root.children[0].start if root.children else closing_start

    if root.children:
        doc.sections = [_to_section(child, text) for child in root.children]
        if intro_end > intro_start and text[intro_start:intro_end].strip():
            doc.intro = _section(text, intro_start, intro_end)
    else:
        # No block sections: inline items, if any, become the top-level sections.
        items = _find_items(text, intro_start, closing_start)
        if items:
            first = items[0].start
            if text[intro_start:first].strip():
                doc.intro = _section(text, intro_start, first)
            doc.sections = _items_with_leftovers(text, items, intro_start, closing_start, parent_path=(),
                                                 include_lead=False)
        elif text[intro_start:closing_start].strip():
            doc.intro = _section(text, intro_start, closing_start)
    if closing_start < len(text) and text[closing_start:].strip():
        doc.closing = _section(text, closing_start, len(text))

    _fill_header_attributes(doc, fields, addressee_line)
    return doc


def _parse_header(text: str, lines: list[_Line]) -> tuple[dict[str, str], _Line | None, int]:
    """Header fields (canonical name → value as written), the title line, and where the body starts."""
    fields: dict[str, str] = {}
    title_line: _Line | None = None
    body_start = 0
    index = 0
    if lines and not _FIELD_LINE.match(lines[0].text) and _is_title_like(lines[0].text):
        title_line = lines[0]
        body_start = lines[0].end
        index = 1
    while index < len(lines):
        line = lines[index]
        match = _FIELD_LINE.match(line.text)
        if not match:
            if _META_LINE.match(line.text) and index < 12:
                body_start = line.end  # web-page metadata ("发布时间：… 来源：…") is not body text
                index += 1
                continue
            break
        name = _ALIAS_TO_FIELD[match.group("name")]
        value = match.group("value").strip(_SPACE)
        if name == _BODY_FIELD:
            # "答复内容:" ends the header; its value, if on the same line, is the body's first line.
            body_start = line.start + match.start("value") if value else line.end
            break
        fields.setdefault(name, value)
        body_start = line.end
        index += 1
    return fields, title_line, body_start


def _is_title_like(line: str) -> bool:
    if len(line) > 100 or line[-1] in _TERMINATORS or _label_match(line) is not None:
        return False
    return not (line[-1] in ":：" and len(line) <= 30)  # "凌毅代表:" is an addressee, not a title


def _label_match(line: str) -> tuple[_Style, re.Match[str]] | None:
    for style in _STYLES:
        match = style.pattern.match(line)
        if match:
            return style, match
    return None


def _closing_start(body_lines: list[_Line], text_len: int) -> int:
    """Offset where the closing lines (thanks, 特此答复, contact, signature, date) begin."""
    start = text_len
    for line in reversed(body_lines):
        content = line.text
        if _label_match(content) is None and (
                _CLOSING_PHRASE.match(content) or _CONTACT_LINE.match(content) or _DATE_LINE.match(content)
                or _SIGNATURE_LINE.match(content)):
            start = line.start
            continue
        break
    if body_lines and start <= body_lines[0].start:
        return text_len  # a body made only of "closing" lines is the body
    return start


def _build_block_tree(root: _Node, body_lines: list[_Line]) -> None:
    stack = [root]
    for line in body_lines:
        found = _label_match(line.text)
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
        node = _Node(style=style, number=number, label=label, start=label_start)
        node.path = parent.path + (label.translate(_PATH_FOLD),)
        node.heading, node.content_start = _heading(line, match.end(0))
        for closed in stack[depth + 1:]:
            closed.end = line.start
        del stack[depth + 1:]
        parent.children.append(node)
        stack.append(node)
    for node in stack[1:]:
        node.end = root.end


def _heading(line: _Line, label_len: int) -> tuple[str, int]:
    """The heading after a label and the offset where the node's own text starts.

    A label line with one sentence is all heading ("(一)加快与黔南协作联动"); with several, the
    first sentence is the heading when it is short ("（一）大力推进……新质生产力。充分发挥……").
    """
    rest = line.text[label_len:]
    lead = len(rest) - len(rest.lstrip(_SPACE))
    rest = rest.strip(_SPACE)
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


def _close(node: _Node, text: str) -> None:
    """Trim node ends to their text and recurse."""
    for child in node.children:
        _close(child, text)
    if node.style is not None:
        node.start, node.end = _trim(text, node.start, node.end)


def _find_addressee(body_lines: list[_Line], root: _Node) -> _Line | None:
    first_section = root.children[0].start if root.children else None
    for position, line in enumerate(body_lines[:8]):
        if first_section is not None and line.start >= first_section:
            break
        content = line.text
        if content[-1] not in ":：" or len(content) > 30 or any(ch in _TERMINATORS for ch in content):
            continue
        if _NOT_ADDRESSEE.search(content) or _FIELD_LINE.match(content):
            continue
        if position == 0 or _ADDRESSEE_WORDS.search(content):
            return line
    return None


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
            items.append(_section(text, pos, stop, label=text[pos:label_end]))
    return items


def _item_position_ok(text: str, region_start: int, pos: int) -> bool:
    """An item label counts at the region start, a paragraph start, or right after a sentence end."""
    i = pos - 1
    while i >= region_start and text[i] in _SPACE:
        i -= 1
    return i < region_start or text[i] == "\n" or text[i] in _ITEM_AFTER


def _items_with_leftovers(text: str, items: list[Section], start: int, end: int,
                          parent_path: tuple[str, ...], include_lead: bool = True) -> list[Section]:
    """Items plus the text around them as ``label == ""`` nodes with the parent's path."""
    out: list[Section] = []
    cursor = start
    for item in items:
        if cursor < item.start and text[cursor:item.start].strip() and (include_lead or out):
            out.append(_section(text, cursor, item.start, path=parent_path))
        item.path = parent_path + (item.label,)
        out.append(item)
        cursor = item.end
    if cursor < end and text[cursor:end].strip():
        out.append(_section(text, cursor, end, path=parent_path))
    return out


def _to_section(node: _Node, text: str) -> Section:
    section = Section(label=node.label, heading=node.heading, text=text[node.start:node.end],
                      start=node.start, end=node.end, path=node.path)
    own_end = node.children[0].start if node.children else node.end
    own_start = min(max(node.content_start, node.start), own_end)
    items = _find_items(text, own_start, own_end)
    children: list[Section] = []
    if items:
        children.extend(_items_with_leftovers(text, items, own_start, own_end, node.path))
    elif node.children and text[own_start:own_end].strip():
        children.append(_section(text, own_start, own_end, path=node.path))
    children.extend(_to_section(child, text) for child in node.children)
    section.children = children
    return section


def _title(raw: RawText, fields: dict[str, str], title_line: _Line | None, body_lines: list[_Line],
           text: str) -> str:
    if fields.get("复文标题"):
        return fields["复文标题"]
    if raw.title:
        return raw.title.strip()
    if title_line is not None:
        return title_line.text.lstrip("#* \t").strip() or title_line.text
    if fields.get("建议提案标题"):
        return fields["建议提案标题"]
    first = next(iter(body_lines), None) or next(iter(_lines(text)), None)
    if first is None:
        return raw.doc_id
    sentence = first.text
    spans = split_sentences(sentence)
    if spans:
        sentence = sentence[spans[0][0]:spans[0][1]]
    marker = re.search(r"正文[:：]", sentence[:40])
    if marker:  # news exports: "2023-08-11 15:10，正文：……"
        sentence = sentence[marker.end():]
    sentence = sentence.rstrip("。！？；!?;")
    return sentence if len(sentence) <= 40 else sentence[:40] + "…"


def _fill_header_attributes(doc: ReplyDocument, fields: dict[str, str], addressee: _Line | None) -> None:
    doc.proposer = fields.get("代表提案者", "")
    doc.session = fields.get("会议届次", "")
    doc.main_unit = fields.get("主办单位", "")
    doc.co_units = fields.get("会办单位", "")
    doc.suggestion_no = normalize_suggestion_no(fields.get("建议提案编号", ""))
    if not doc.suggestion_no:
        named = suggestion_numbers(doc.title)
        if named and re.search(r"建议|提案|议案", doc.title):
            doc.suggestion_no = named[0]
    if not doc.session:
        match = _SESSION.search(doc.title)
        if match and re.search(r"建议|提案|议案", doc.title):
            doc.session = match.group(1)
    if not doc.proposer and addressee is not None:
        name = re.match(r"^(?:尊敬的)?([\u4e00-\u9fff·]{2,5}?)(?:代表|委员)[:：]$", addressee.text)
        if name and not re.match(r"^(各位|全体|各|诸位)", name.group(1)):
            doc.proposer = name.group(1)
