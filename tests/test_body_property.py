"""Property test of the body parser: reply-like texts built from random numbering schemes, headers and
closings parse back into the sections they were built from.

Each generated body is a list of leaves (label as a citation shows it, lines) plus heading-only lines
of sections that have children. The round trip checks that the leaves come back with those labels,
in order, each character of the body in exactly one of them — the heading lines being the only text
outside a leaf, as the section tree says (they travel in their descendants' heading paths).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.reading.chunking import chunk_document
from assistant.reading.parser import parse_reply
from assistant.reading.raw import RawText
from assistant.schema import ReplyDocument, Section, join_section_path

# Characters that never start or make a label, a closing phrase or a signature.
_SAFE = "甲乙丙丁戊己庚辛壬癸建设推进保障资金项目完善服务农村道路教育医疗养老供水"
_CN = "一二三四五六七八九"

words = st.text(alphabet=_SAFE, min_size=2, max_size=12)
sentences = st.lists(words, min_size=1, max_size=3).map(lambda ws: "，".join(ws) + "。")
paragraphs = st.lists(sentences, min_size=1, max_size=3).map("".join)
headings = words.map(lambda w: f"关于{w}的建议")


@dataclass
class Body:
    """What was built: leaves as (label, lines); heading-only lines as (None, [line])."""

    parts: list[tuple[str | None, list[str]]] = field(default_factory=list)

    def add(self, label: str | None, *lines: str) -> None:
        self.parts.append((label, list(lines)))

    @property
    def lines(self) -> list[str]:
        return [line for _, lines in self.parts for line in lines]


@st.composite
def blocks(draw, body: Body, markdown: bool) -> None:
    """一、 → (一) → 1. sections, some with 一是/二是 items in a paragraph, or bulleted lists."""
    for i in range(draw(st.integers(1, 3))):
        top = f"{_CN[i]}、"
        line = ("## " if markdown else "") + top + draw(headings)
        kind = draw(st.sampled_from(["text", "children", "items", "bullets" if markdown else "items"]))
        if kind == "text":
            body.add(top, line, *draw(st.lists(paragraphs, min_size=1, max_size=2)))
            continue
        body.add(None, line)
        if draw(st.booleans()):
            body.add(top, draw(paragraphs))  # the lead paragraph is cited as its section
        if kind == "children":
            chinese = draw(st.booleans())  # one numbering style per level
            for j in range(draw(st.integers(1, 3))):
                sub = f"({_CN[j]})" if chinese else f"{j + 1}."
                written = sub.replace("(", "（").replace(")", "）") if draw(st.booleans()) else sub
                body.add(f"{top}{sub}", ("### " if markdown else "") + written + draw(paragraphs))
        elif kind == "items":
            count = draw(st.integers(2, 4))
            body.parts.extend((f"{top}{_CN[k]}是", [f"{_CN[k]}是" + draw(paragraphs)]) for k in range(count))
            for tail in draw(st.lists(paragraphs, max_size=1)):
                body.add(top, tail)
        else:
            for k in range(draw(st.integers(2, 4))):
                body.add(f"{top}第{k + 1}项", "- " + draw(paragraphs))


@st.composite
def word_items(draw, body: Body, first: int) -> None:
    """第一，/第二， or 首先，/其次，/再次，/最后， paragraphs; a non-last item may run on a paragraph."""
    count = draw(st.integers(2, 4))
    if draw(st.booleans()):
        labels = [f"第{_CN[k]}" for k in range(count)]
    else:
        labels = ["首先", "其次", "再次", "最后"][:count]
        if count == 3 and draw(st.booleans()):
            labels[2] = "最后"
    for k, label in enumerate(labels):
        lines = [f"{label}，" + draw(paragraphs)]
        if k + 1 < count and draw(st.booleans()):
            lines.append(draw(paragraphs))  # still the same item: it runs to the next label
        body.add(label, *lines)
    for tail in draw(st.lists(paragraphs, max_size=2)):
        body.add(f"第{first + len(body.lines)}段", tail)  # after the last item: paragraphs by place


@st.composite
def titled_markdown(draw, body: Body) -> None:
    """Unnumbered Markdown headings: the heading is the label."""
    for _ in range(draw(st.integers(1, 2))):
        title = draw(words)
        if draw(st.booleans()):
            body.add(title, f"## {title}", draw(paragraphs))
            continue
        body.add(None, f"## {title}")
        for _ in range(draw(st.integers(1, 2))):
            sub = draw(words)
            body.add(f"{title} {sub}", f"### {sub}", draw(paragraphs))


@st.composite
def replies(draw):
    """(text, intro-and-body Body, closing labels)."""
    title = "关于" + draw(words) + "的答复"
    header = draw(st.sampled_from(["fields", "title"]))
    head = [title]
    if header == "fields":
        head += [f"代表提案者: {draw(words)}", f"建议提案编号: 第{draw(st.integers(1, 999))}号", "答复内容:"]
    if draw(st.booleans()):
        head.append("张三代表：")
    body = Body()
    body.add("", f"您提出的《关于{draw(words)}的建议》收悉。现答复如下：")  # the introduction
    scheme = draw(st.sampled_from(["blocks", "markdown", "words", "paragraphs", "titled"]))
    if scheme in ("blocks", "markdown"):
        draw(blocks(body, scheme == "markdown"))
    elif scheme == "words":
        draw(word_items(body, 1))
    elif scheme == "titled":
        draw(titled_markdown(body))
    else:
        for n, text in enumerate(draw(st.lists(paragraphs, min_size=1, max_size=4)), 2):
            body.add(f"第{n}段", text)
    closing: list[tuple[str, list[str]]] = []
    if draw(st.booleans()):
        closing.append(("结尾", [f"感谢您对{draw(words)}工作的关心和支持。"]))
    sign_off = draw(st.lists(st.sampled_from([
        "甲乙市交通运输局", "2024年6月20日", "联系人：张三　联系电话：0851-12345678", "抄送：市人大常委会。",
        "（此件公开发布）"]), max_size=4, unique=True))
    if sign_off:
        closing.append(("落款", sign_off))
    lines = head + body.lines + [line for _, part in closing for line in part]
    blank = "\n\n" if draw(st.booleans()) else "\n"
    indent = "\u3000\u3000" if draw(st.booleans()) else ""
    text = blank.join(indent + line if line not in head else line for line in lines)
    return text, body, [label for label, _ in closing]


def _leaves(doc: ReplyDocument) -> list[Section]:
    out = [s for s in (doc.addressee, doc.intro) if s is not None]
    out += [leaf for top in doc.sections for leaf in top.leaves()]
    return out + (doc.closing.leaves() if doc.closing else [])


def _squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(replies())
def test_built_replies_parse_back_to_their_sections(reply):
    text, body, closing = reply
    doc = parse_reply(RawText(doc_id="built", text=text, source="built.txt"))
    expected = [label for label, _ in body.parts if label]
    got = [join_section_path(leaf.path) for top in doc.sections for leaf in top.leaves()]
    assert [doc.intro is not None] + got == [True] + expected
    assert [join_section_path(leaf.path) for leaf in (doc.closing.leaves() if doc.closing else [])] == closing
    leaves = _leaves(doc)
    for before, after in itertools.pairwise(leaves):
        assert before.end <= after.start  # in order, no character in two leaves
    for leaf in leaves:
        assert text[leaf.start:leaf.end] == leaf.text
    covered = [False] * len(text)
    for leaf in leaves:
        covered[leaf.start:leaf.end] = [True] * (leaf.end - leaf.start)
    body_start = (doc.addressee or doc.intro).start
    outside = _squash("".join(ch for i, ch in enumerate(text) if i >= body_start and not covered[i]))
    assert outside == _squash("".join(lines[0] for label, lines in body.parts if label is None))
    # The chunks cover the same text and carry the same labels (one per piece of a split leaf).
    chunks = [c for c in chunk_document(doc, max_chars=60) if c.kind != "card"]
    assert _squash("".join(c.text for c in chunks)) == _squash("".join(leaf.text for leaf in leaves[1 if doc.addressee else 0:]))
