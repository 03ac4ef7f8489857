"""Bodies of other shapes, one rule at a time: word enumerations, bullets, unnumbered headings and
paragraphs, and the closing's two parts. No model."""

from __future__ import annotations

from assistant.reading.chunking import chunk_document
from assistant.reading.parser import parse_reply
from assistant.reading.raw import RawText
from assistant.schema import ReplyDocument


def _parse(text: str) -> ReplyDocument:
    return parse_reply(RawText(doc_id="doc", text=text, source="doc.txt"))


def _labels(doc: ReplyDocument) -> list[str]:
    leaves = [leaf for top in doc.sections for leaf in top.leaves()]
    return [leaf.path_label for leaf in leaves + (doc.closing.leaves() if doc.closing else [])]


HEAD = "关于第8号建议的答复\n李四代表：\n您的建议收悉，现答复如下：\n"


def test_ordinal_words_at_paragraph_starts_are_items_and_the_rest_paragraphs():
    doc = _parse(HEAD + "首先，加快建设。\n其次，强化保障。\n补充说明。\n最后，做好宣传。\n另外一段。")
    assert _labels(doc) == ["首先", "其次", "最后", "第6段"]
    assert doc.sections[1].text == "其次，强化保障。\n补充说明。"  # an item runs to the next label


def test_ordinal_words_in_running_prose_stay_text():
    text = "巴西大豆出口增加。首先，巴西大豆丰收；其次，价格更低。此外还有运费。"
    doc = _parse(text)
    assert doc.sections == [] and doc.intro.text == text
    assert [c.kind for c in chunk_document(doc)] == ["intro"]  # a news text stays one unstructured intro


def test_di_yi_needs_a_comma_and_a_run_of_two():
    assert _labels(_parse(HEAD + "第一，甲。\n第二，乙。")) == ["第一", "第二"]
    assert _labels(_parse(HEAD + "第一次会议研究了甲。\n第二次会议研究了乙。")) == ["第2段", "第3段"]
    assert _labels(_parse(HEAD + "第一，甲。\n第三，丙。")) == ["第2段", "第3段"]


def test_bullets_are_items_numbered_by_position():
    doc = _parse(HEAD + "## 一、措施\n总的要求。\n- 甲。\n- 乙。\n* 丙。\n收尾说明。")
    assert _labels(doc) == ["一、", "一、第1项", "一、第2项", "一、第3项", "一、"]
    assert doc.sections[0].text.startswith("## 一、措施")  # the Markdown mark stays with its heading


def test_unnumbered_markdown_headings_label_their_sections():
    doc = _parse(HEAD + "## 基本情况\n甲。\n## 工作措施\n### 资金\n乙。\n### 人员\n丙。")
    assert _labels(doc) == ["基本情况", "工作措施 资金", "工作措施 人员"]
    assert doc.intro.text == "您的建议收悉，现答复如下："


def test_unnumbered_body_is_cited_by_paragraph():
    doc = _parse(HEAD + "甲段。\n乙段。\n感谢您的关心。\n某某市民政局\n2024年6月1日")
    assert doc.intro.text == "您的建议收悉，现答复如下："
    assert [(s.label, s.text) for s in doc.sections] == [("第2段", "甲段。"), ("第3段", "乙段。")]
    chunks = chunk_document(doc)
    assert [(c.kind, c.section) for c in chunks if c.kind != "card"] == [
        ("intro", ""), ("section", "第2段"), ("section", "第3段"), ("closing", "结尾"), ("closing", "落款")]


def test_closing_parts_and_notes():
    doc = _parse(HEAD + "一、甲\n内容。\n感谢你们的支持。\n（联系人：王五；联系电话：0851-1234567）\n"
                 "某某市教育局\n2024年7月8日\n抄送：市人大。\n（此件公开发布）")
    assert [(s.label, s.text.split("\n")[0]) for s in doc.closing.children] == [
        ("结尾", "感谢你们的支持。"), ("落款", "（联系人：王五；联系电话：0851-1234567）")]
    assert doc.closing.text.endswith("（此件公开发布）") and doc.sections[0].text == "一、甲\n内容。"
    only_sign_off = _parse(HEAD + "一、甲\n内容。\n某某市教育局\n2024年7月8日").closing
    assert (only_sign_off.label, only_sign_off.children) == ("落款", [])


def test_a_closing_dated_in_digits_is_a_closing_too():
    """The closing's date line and the header facts' date are one rule: 2024-06-26 ends a reply as
    2024年6月26日 does (it used to stay glued to the last item)."""
    from assistant.reading.parser import parse_reply
    from assistant.reading.raw import RawText

    for date in ("2024年6月26日", "2024-06-26", "2024.6.26"):
        text = f"关于市五届人大三次会议第087号建议的答复\n罗春燕代表：\n一、关于学位\n扩大学位供给。\n衷心感谢您的关心。\n遵义市教育局\n{date}\n"
        doc = parse_reply(RawText(doc_id="d", text=text, source="d.txt"))
        assert doc.closing is not None and date in doc.closing.text, date
        assert date not in text[doc.sections[0].start:doc.sections[0].end], date
        assert doc.header.date == "2024-06-26"
