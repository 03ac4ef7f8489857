"""The header of a reply: its title, the "name: value" fields before the body, and what they say
(proposer, number, session, handling units)."""

from __future__ import annotations

import re

from assistant.reading.numbers import normalize_suggestion_no, suggestion_numbers
from assistant.reading.raw import RawText
from assistant.reading.sections import SPACE, TERMINATORS, Line, label_match, split_lines
from assistant.schema import ReplyDocument
from assistant.text import split_sentences

__all__ = ["FIELD_ALIASES", "FIELD_LINE", "fill_header_attributes", "parse_header", "title_of"]

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
FIELD_LINE = re.compile(
    r"^(?P<name>" + "|".join(sorted(map(re.escape, _ALIAS_TO_FIELD), key=len, reverse=True)) + r")"
    r"[ \u3000]*(?:[:：]|\t|[ \u3000]{2,})[ \t\u3000]*(?P<value>.*)$"
)
_BODY_FIELD = "答复内容"
# Publication metadata that web pages print between the title and the fields.
_META_LINE = re.compile(r"^(发布时间|发布日期|发文日期|成文日期|来源|信息来源|索引号|文号|发文机关|浏览次数|访问次数)[:：]")
_SESSION = re.compile(
    r"((?:全国|省|市|州|区|县|自治区)?(?:第)?[一二三四五六七八九十]{1,3}届(?:全国)?(?:人大|人民代表大会|政协)?"
    r"(?:常委会)?(?:第)?[一二三四五六七八九十]{1,3}次(?:全体)?会议)"
)


def parse_header(text: str, lines: list[Line]) -> tuple[dict[str, str], Line | None, int]:
    """Header fields (canonical name → value as written), the title line, and where the body starts."""
    fields: dict[str, str] = {}
    title_line: Line | None = None
    body_start = 0
    index = 0
    if lines and not FIELD_LINE.match(lines[0].text) and _is_title_like(lines[0].text):
        title_line = lines[0]
        body_start = lines[0].end
        index = 1
    while index < len(lines):
        line = lines[index]
        match = FIELD_LINE.match(line.text)
        if not match:
            if _META_LINE.match(line.text) and index < 12:
                body_start = line.end  # web-page metadata ("发布时间：… 来源：…") is not body text
                index += 1
                continue
            break
        name = _ALIAS_TO_FIELD[match.group("name")]
        value = match.group("value").strip(SPACE)
        if name == _BODY_FIELD:
            # "答复内容:" ends the header; its value, if on the same line, is the body's first line.
            body_start = line.start + match.start("value") if value else line.end
            break
        fields.setdefault(name, value)
        body_start = line.end
        index += 1
    return fields, title_line, body_start


def _is_title_like(line: str) -> bool:
    if len(line) > 100 or line[-1] in TERMINATORS or label_match(line) is not None:
        return False
    return not (line[-1] in ":：" and len(line) <= 30)  # "凌毅代表:" is an addressee, not a title


def title_of(raw: RawText, fields: dict[str, str], title_line: Line | None, body_lines: list[Line],
             text: str) -> str:
    """复文标题, else the loader's title, the title line, 建议提案标题, or the first sentence (≤ 40 chars)."""
    if fields.get("复文标题"):
        return fields["复文标题"]
    if raw.title:
        return raw.title.strip()
    if title_line is not None:
        return title_line.text.lstrip("#* \t").strip() or title_line.text
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


def fill_header_attributes(doc: ReplyDocument, fields: dict[str, str], addressee: Line | None) -> None:
    """Proposer, session, units and number from the fields, else from the title and the addressee."""
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
