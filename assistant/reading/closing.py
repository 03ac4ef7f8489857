"""The closing of a reply: where it starts, and its two parts — 结尾 (thanks, 特此答复) and 落款
(the office's signature, the date, 联系人/联系电话, 抄送, a bracketed note) — as sections of their own."""

from __future__ import annotations

import re

from assistant.reading.header_facts import DATE_LINE
from assistant.reading.items import make_section
from assistant.reading.sections import Line, label_match, split_lines
from assistant.schema import Section

__all__ = ["closing_section", "closing_start"]

_CLOSING_PHRASE = re.compile(
    r"^(衷心感谢|非常感谢|再次感谢|感谢您|感谢你|谢谢|特此答复|特此函复|特此复函|特此回复|此复|专此答复|专此函复|"
    r"以上答复|欢迎您?继续|希望您?继续|恳请您?继续)"
)
_CONTACT_LINE = re.compile(r"^[（(]?(联系人|联系电话|联系单位|联系方式|经办人|承办人|抄送|签发人|承办处室)[:：]")
_SIGNATURE_LINE = re.compile(
    r"^[^。！？；!?;，,]{2,30}(人民政府|政府|局|委员会|委|办公室|办公厅|厅|部|院|中心|公司|协会|管委会|办事处|"
    r"集团|分局|支队|大队|银行|学校|医院)([（(][^）)]{0,10}[）)])?$"
)
# A line wholly in brackets after the signature: "（此件公开发布）", "【示例文档……】".
_NOTE_LINE = re.compile(r"^(【[^【】]*】|[（(][^（()）]*[）)])$")


def closing_start(body_lines: list[Line], text_len: int) -> int:
    """Offset where the closing lines (thanks, 特此答复, contact, signature, date, notes) begin."""
    start = text_len
    for line in reversed(body_lines):
        if label_match(line.text) is None and (_CLOSING_PHRASE.match(line.text) or _is_sign_off(line.text)):
            start = line.start
            continue
        break
    if body_lines and start <= body_lines[0].start:
        return text_len  # a body made only of "closing" lines is the body
    return start


def closing_section(text: str, start: int) -> Section | None:
    """The closing ``text[start:]``: 结尾 (thanks) and 落款 (sign-off) as sibling leaves.

    With only one of the two parts, the closing is that part alone (a leaf).
    """
    if not text[start:].strip():
        return None
    lines = split_lines(text, start)
    sign_off = next((line.start for line in lines if not _CLOSING_PHRASE.match(line.text)), len(text))
    parts = [make_section(text, a, b, label=label, path=(label,))
             for a, b, label in ((start, sign_off, "结尾"), (sign_off, len(text), "落款")) if text[a:b].strip()]
    if len(parts) == 1:
        return parts[0]
    closing = make_section(text, start, len(text), label="结尾", path=("结尾",))
    closing.children = parts
    return closing


def _is_sign_off(line: str) -> bool:
    return bool(_CONTACT_LINE.match(line) or DATE_LINE.match(line) or _SIGNATURE_LINE.match(line)
                or _NOTE_LINE.match(line))
