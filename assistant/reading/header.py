"""The header of a reply: the lines before the body — issuer, title, 文号 and "name: value" fields —
in any of the shapes replies are written in (a field block, Markdown tables, bold or bulleted field
lines, blockquotes, YAML front matter, a web page's metadata lines), and where the body starts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.reading.raw import RawText
from assistant.reading.sections import SPACE, TERMINATORS, Line, label_match, split_lines
from assistant.text import split_sentences

__all__ = ["FIELD_ALIASES", "FIELD_LINE", "ISSUER_LINE", "OFFICE_END", "REPLY_TITLE_END", "Preamble", "fields_in",
           "parse_header", "title_of"]

#: Canonical header field → the names it is written under. ``ReplyDocument.fields`` is keyed by
#: the canonical name (values as written), so consumers need not know the variants.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "代表提案者": ("代表提案者", "提案代表", "领衔代表", "代表姓名", "提案者", "提案人", "建议人",
                   "提出人", "领衔人", "提案委员", "委员姓名"),
    "会议届次": ("会议届次", "会议名称", "届次"),
    "建议提案标题": ("建议提案标题", "建议标题", "提案标题", "提案题目", "建议题目", "建议名称", "提案名称", "案由"),
    "建议提案编号": ("建议提案编号", "建议编号", "提案编号", "建议号", "提案号", "编号"),
    "主办单位": ("主办单位", "承办单位", "主办"),
    "会办单位": ("会办单位", "协办单位", "会办", "协办"),
    "复文标题": ("复文标题", "答复标题", "复文名称"),
    "答复内容": ("答复内容", "复文内容", "答复正文", "正文"),
    # Document-level facts that headers (and web pages' metadata lines) also print.
    "文号": ("文号", "发文字号"),
    "办理结果": ("办理结果", "办理类别", "答复类别"),
    "签发人": ("签发人",),
    "签发日期": ("签发日期", "成文日期", "发文日期"),
    "发布日期": ("发布日期", "发布时间"),
    "发布机构": ("发布机构", "发文机关", "发文单位"),
    "索引号": ("索引号",),
    "来源": ("来源", "信息来源"),
    "浏览次数": ("浏览次数", "访问次数"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
_NAMES = "|".join(sorted(map(re.escape, _ALIAS_TO_FIELD), key=len, reverse=True))
FIELD_LINE = re.compile(
    r"^(?P<name>" + _NAMES + r")[ \u3000]*(?:[:：]|\t|[ \u3000]{2,})[ \t\u3000]*(?P<value>.*)$"
)
# A further "name：" on the same line ("主办单位：X　会办单位：Y", "来源：… 发布时间：…"): after white
# space or a separator, so that a value's own words ("…编号：") are not split.
_NEXT_FIELD = re.compile(r"(?:^|(?<=[\s｜|；;]))(?P<name>" + _NAMES + r")[ \u3000]*[:：]")
_BODY_FIELD = "答复内容"
# A web page's publication metadata: kept apart from the reply's own fields (news exports start
# "发布时间：2023-07-26 08:46，正文：……", whose "value" is the whole article).
_PAGE_FIELDS = {"发布日期", "发布机构", "索引号", "来源", "浏览次数"}
# "案　由：" / "主　办：" — a two-character name spaced out to align with longer ones.
_SPACED_NAME = re.compile(r"^([\u4e00-\u9fff])[ \u3000]+([\u4e00-\u9fff])(?=[ \u3000]*[:：])")
_DOC_NUMBER = re.compile(r"^(?P<number>[\u4e00-\u9fff]{1,12}[〔\[［(（]\d{4}[〕\]］)）]第?\d+号)(?P<rest>.*)$")
_RESULT = re.compile(r"^(?P<result>[ABCＡＢＣ]类(?:[（(][^）)]{1,30}[）)])?)$")
#: How the name of an office that writes replies ends ("…人民政府", "…教育局", "…卫生健康委员会").
OFFICE_END = r"(?:人民政府|政府|局|委员会|委|办公室|办公厅|厅|院|中心|管委会)"
#: A line that is only an office's name: an issuer line above the title ("…局文件" on a letterhead)
#: or the signature above the closing date.
ISSUER_LINE = re.compile(r"^[^。！？；!?;，,：:]{2,30}" + OFFICE_END + r"(?P<file>文件)?$")
# The title of a reply: 关于/对 …的答复 / 的复函 / 答复的函 (possibly split over two lines).
REPLY_TITLE_END = re.compile(r"(答复|复函|答复的函|的函|答复意见)$")
_TABLE_SEPARATOR = re.compile(r"^\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?$")
_DECORATION = re.compile(r"^(?:#{1,6}[ \t]+|>[ \t]*|[-*+][ \t]+)")
_SKIP = ""  # what _unwrap returns for a line that is decoration only


@dataclass
class Preamble:
    """What the lines before the body say: fields (canonical name → value as written), the title
    and issuer lines when there are some, and the offset where the body starts."""

    fields: dict[str, str] = field(default_factory=dict)
    page: dict[str, str] = field(default_factory=dict)  # a web page's metadata: 发布日期, 发布机构 …
    title: str = ""
    issuer: str = ""
    body_start: int = 0


def fields_in(line: str) -> list[tuple[str, str]]:
    """The ``(canonical name, value)`` pairs a header line holds ("" values included), or []."""
    line = _SPACED_NAME.sub(r"\1\2", line)
    first = FIELD_LINE.match(line)
    if not first:
        return []
    starts = [(first.start("name"), first.start("value"), first.group("name"))]
    for match in _NEXT_FIELD.finditer(line, first.start("value")):
        starts.append((match.start("name"), match.end(), match.group("name")))
    pairs = []
    for position, (_, value_start, name) in enumerate(starts):
        value_end = starts[position + 1][0] if position + 1 < len(starts) else len(line)
        pairs.append((_ALIAS_TO_FIELD[name], line[value_start:value_end].strip(SPACE + "｜|；;")))
    return pairs


def parse_header(text: str, lines: list[Line], known_title: str | None = None) -> Preamble:
    """Read the header lines at the top of ``text``; stops at the first body line."""
    out = Preamble()
    known = (known_title or "").strip()
    # A web page's own title, when one of the first lines repeats it: what stands before it is
    # site chrome or metadata, never body.
    title_at = next((i for i, line in enumerate(lines[:8]) if known and _unwrap(line.text) == known), -1)
    index = _front_matter(lines, out)
    while index < len(lines):
        line = lines[index]
        content = _unwrap(line.text)
        pairs = fields_in(content) if content else []
        if content == _SKIP or (index < title_at and not pairs):
            out.body_start = line.end
            index += 1
            continue
        if pairs:
            if _take_fields(out, pairs, line):
                break
            index += 1
            continue
        consumed = _header_line(out, lines, index, content, title_at)
        if not consumed:
            break
        out.body_start = lines[index + consumed - 1].end
        index += consumed
    return out


def _take_fields(out: Preamble, pairs: list[tuple[str, str]], line: Line) -> bool:
    """Record a field line's pairs; True when it is "答复内容：", which ends the header."""
    for name, value in pairs:
        if name == _BODY_FIELD:
            # "答复内容:" ends the header; its value, if on the same line, is the body's first line.
            written = value and line.text.endswith(value)
            out.body_start = line.end - len(value) if written else line.end
            return True
        _store(out, name, value)
    out.body_start = line.end
    return False


def _store(out: Preamble, name: str, value: str) -> None:
    if name not in _PAGE_FIELDS:
        out.fields.setdefault(name, value)
    elif len(value) <= 40:
        out.page.setdefault(name, value)


def _header_line(out: Preamble, lines: list[Line], index: int, content: str, title_at: int) -> int:
    """How many lines from ``index`` are an issuer, title, 文号 or 办理结果 line (0: the body starts)."""
    result = _RESULT.match(content)
    if result and not out.fields.get("办理结果"):
        out.fields["办理结果"] = result.group("result")
        return 1
    number = _DOC_NUMBER.match(content)
    if number and "文号" not in out.fields:
        out.fields["文号"] = number.group("number")
        for name, value in fields_in(number.group("rest").strip(SPACE + "｜|")):
            _store(out, name, value)
        return 1
    if out.title:
        return 0
    issuer = ISSUER_LINE.match(content)
    if issuer and not out.issuer and index < 3 and _reply_title_follows(lines, index + 1):
        out.issuer = content[: issuer.start("file")] if issuer.group("file") else content
        return 1
    first = index in (0, title_at) or (bool(out.issuer or out.fields) and index < 6)
    if not first or not _is_title_like(content) or fields_in(content):
        return 0
    out.title = content
    following = _unwrap(lines[index + 1].text) if index + 1 < len(lines) else ""
    if (not REPLY_TITLE_END.search(content) and following and REPLY_TITLE_END.search(following)
            and _is_title_like(following) and not following.startswith(("关于", "对"))
            and len(content) + len(following) <= 80):
        out.title = content + following  # a title broken over two lines
        return 2
    return 1


def _reply_title_follows(lines: list[Line], start: int) -> bool:
    for line in lines[start:start + 3]:
        content = _unwrap(line.text)
        if content and re.match(r"^(关于|对)", content) and REPLY_TITLE_END.search(content):
            return True
    return False


def _front_matter(lines: list[Line], out: Preamble) -> int:
    """YAML front matter (``---`` … ``---``): its known fields are read; returns the next line's index."""
    if not lines or lines[0].text != "---":
        return 0
    for index, line in enumerate(lines[1:40], start=1):
        if line.text == "---":
            out.body_start = line.end
            for inner in lines[1:index]:
                key, _, value = inner.text.partition(":")
                value = value.strip(SPACE + "\"'")
                if key.strip().lower() == "title" and value:
                    out.title = value
                for name, written in fields_in(f"{key.strip()}：{value}"):
                    _store(out, name, written)
            return index + 1
    return 0


def _is_table_row(line: str) -> bool:
    return line.startswith("|") and line.endswith("|")


def _unwrap(line: str) -> str:
    """A header line without its Markdown dress: headings, quotes, bullets, bold, table pipes."""
    if _TABLE_SEPARATOR.match(line) or re.fullmatch(r"[-*_]{3,}", line):
        return _SKIP
    line = _DECORATION.sub("", line).strip(SPACE)
    line = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), line)
    if _is_table_row(line):
        cells = [c.strip(SPACE) for c in line.strip("|").split("|")]
        if len(cells) == 2 and fields_in(f"{cells[0]}：{cells[1]}"):
            return f"{cells[0]}：{cells[1]}"
        return _SKIP if len(cells) == 2 else line  # a table's own header row ("项目 | 内容")
    return line


def _is_title_like(line: str) -> bool:
    if len(line) > 100 or line[-1] in TERMINATORS or label_match(line) is not None:
        return False
    return not (line[-1] in ":：" and len(line) <= 30)  # "凌毅代表:" is an addressee, not a title


def title_of(raw: RawText, header: Preamble, body_lines: list[Line], text: str) -> str:
    """复文标题, else the loader's title, the title line, 建议提案标题, or the first sentence (≤ 40 chars)."""
    fields = header.fields
    if fields.get("复文标题"):
        return fields["复文标题"]
    if raw.title:
        return raw.title.strip()
    if header.title:
        return header.title
    if fields.get("建议提案标题"):
        return fields["建议提案标题"]
    first = next(iter(body_lines), None) or next(iter(split_lines(text)), None)
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
