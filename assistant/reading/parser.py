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

Here: the reply's frame (the addressee) and :func:`parse_reply`, which puts the parts together;
the header (title, fields) is read by ``header`` and what it says (proposer, units, issuer, 文号, dates,
contact …) by ``header_facts``; the body's section tree by ``sections`` (whose docstring says how the
tree is represented), the closing (结尾, 落款) by ``closing``.
"""

from __future__ import annotations

import re

from assistant.reading.closing import closing_section, closing_start
from assistant.reading.header import FIELD_ALIASES, FIELD_LINE, parse_header, title_of
from assistant.reading.header_facts import fill_header_attributes
from assistant.reading.raw import RawText
from assistant.reading.sections import (
    TERMINATORS,
    Line,
    block_tree,
    body_sections,
    chinese_number,
    make_section,
    split_lines,
)
from assistant.schema import ReplyDocument

__all__ = ["FIELD_ALIASES", "chinese_number", "parse_reply"]

_ADDRESSEE_WORDS = re.compile(r"代表|委员|同志|先生|女士|老师|您好")
_NOT_ADDRESSEE = re.compile(r"如下|答复|回复|情况|意见|建议")


def parse_reply(raw: RawText) -> ReplyDocument:
    """Parse a reply (or any document) into header fields and a section tree.

    Works on documents without a header too (work reports, news): the title comes from the first
    line when it looks like one, sections are found where they exist, and otherwise the whole
    body is the introduction.
    """
    text = raw.text
    header = parse_header(text, split_lines(text), raw.title)
    body_start = header.body_start
    body_lines = split_lines(text, body_start)  # the body may start mid-line ("答复内容：XX代表：")
    closing_at = closing_start(body_lines, len(text))
    last_lines = body_lines[-12:]  # where the closing's facts are (date, contact, 抄送)
    body_lines = [line for line in body_lines if line.start < closing_at]

    doc = ReplyDocument(doc_id=raw.doc_id, title="", text=text, source=raw.source,
                        metadata=dict(raw.metadata))
    doc.fields = header.fields
    doc.title = title_of(raw, header, body_lines, text)
    root = block_tree(text, body_lines, body_start, closing_at)

    # The addressee is the first body line when it reads "XX代表：", or an early "各位代表：".
    addressee_line = _find_addressee(body_lines, root.children[0].start if root.children else None)
    if addressee_line is not None:
        doc.addressee = make_section(text, addressee_line.start, addressee_line.end)
    intro_start = body_start
    if addressee_line is not None and body_lines and addressee_line is body_lines[0]:
        intro_start = addressee_line.end
    count_from = intro_start if addressee_line is None else addressee_line.end  # 第N段 counts from here
    doc.intro, doc.sections = body_sections(text, root, intro_start, closing_at, count_from)
    doc.closing = closing_section(text, closing_at)

    fill_header_attributes(doc, header, addressee_line, last_lines)
    return doc


def _find_addressee(body_lines: list[Line], first_section: int | None) -> Line | None:
    for position, line in enumerate(body_lines[:8]):
        if first_section is not None and line.start >= first_section:
            break
        content = line.text
        if content[-1] not in ":：" or len(content) > 30 or any(ch in TERMINATORS for ch in content):
            continue
        if _NOT_ADDRESSEE.search(content) or FIELD_LINE.match(content):
            continue
        if position == 0 or _ADDRESSEE_WORDS.search(content):
            return line
    return None
