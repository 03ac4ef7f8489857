"""Reply headers of any shape: every replies-dev document (through the real loaders: GB18030, BOM,
CRLF, HTML, Markdown) against a hand-written expectation, the seed's header pinned, and the
shapes one at a time on small texts written here. No model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.reading.header_facts import normalize_date
from assistant.reading.loaders import RawText, load_file
from assistant.reading.parser import parse_reply
from assistant.schema import HeaderFacts, ReplyDocument

ROOT = Path(__file__).resolve().parents[1]
DEV_DOCS = ROOT.parent / "shared" / "data" / "replies-dev" / "docs"
EXPECTED = json.loads((ROOT / "tests" / "fixtures" / "replies-dev" / "headers.json").read_text("utf-8"))
_DOC_KEYS = ("title", "suggestion_no", "session", "proposer", "main_unit", "co_units")
_FACT_KEYS = tuple(HeaderFacts().as_dict())


def _header(doc: ReplyDocument) -> dict:
    """The document's header as the fixture writes it: the ReplyDocument attributes and the facts,
    proposers left out (the fixture states the proposer)."""
    out = {key: getattr(doc, key) for key in _DOC_KEYS}
    out.update({k: v for k, v in doc.header.as_dict().items() if k != "proposers"})
    return out


def _expected(name: str) -> dict:
    empty = {key: "" for key in (*_DOC_KEYS, *_FACT_KEYS)} | {"cc": [], "proposer_count": None}
    empty.pop("proposers")
    return empty | EXPECTED[name]


def _parse(text: str, title: str | None = None) -> ReplyDocument:
    return parse_reply(RawText(doc_id="doc", text=text, source="doc.txt", title=title))


@pytest.mark.skipif(not DEV_DOCS.is_dir(), reason="replies-dev is not on this machine")
@pytest.mark.parametrize("name", sorted(k for k in EXPECTED if not k.startswith("_")))
def test_replies_dev_header(name):
    [raw] = load_file(DEV_DOCS / name)
    doc = parse_reply(raw)
    assert _header(doc) == _expected(name)
    # The header is not body: the first body part is the addressee.
    assert doc.addressee is not None and doc.addressee.text.rstrip(":：") == EXPECTED[name]["addressee"]


@pytest.mark.skipif(not DEV_DOCS.is_dir(), reason="replies-dev is not on this machine")
def test_every_replies_dev_document_has_an_expectation():
    assert sorted(p.name for p in DEV_DOCS.iterdir()) == sorted(k for k in EXPECTED if not k.startswith("_"))


def test_seed_header_facts():
    [raw] = load_file(ROOT / "corpus" / "reply-616-guiyang.txt")
    doc = parse_reply(raw)
    assert doc.header == HeaderFacts(issuer="贵阳市人民政府", kind="人大代表建议", proposers=["凌毅"],
                                     addressee="凌毅代表")


def test_field_block_written_as_a_markdown_table():
    doc = _parse("# 某市教育局关于市五届人大一次会议第0017号建议的答复\n| 项目 | 内容 |\n|---|---|\n"
                 "| 建议编号 | 第0017号 |\n| 领衔代表 | 张三 |\n| 协办单位 | 某市财政局 |\n| 办理结果 | C类 |\n"
                 "张三代表：\n您提出的建议收悉。现答复如下：\n一、关于经费\n已安排。\n")
    assert doc.title == "某市教育局关于市五届人大一次会议第0017号建议的答复"
    assert (doc.suggestion_no, doc.proposer, doc.co_units) == ("第17号", "张三", "某市财政局")
    assert (doc.header.result_class, doc.header.result, doc.header.issuer) == ("C", "C类", "某市教育局")
    assert doc.intro is not None and doc.intro.text.startswith("您提出的建议收悉")


def test_yaml_front_matter():
    doc = _parse("---\ntitle: 关于第5号提案的答复\n提案人: 李四\n文号: 某政提〔2023〕2号\nlayout: post\n---\n"
                 "李四委员：\n您的提案收悉。\n")
    assert doc.title == "关于第5号提案的答复"
    assert (doc.proposer, doc.header.doc_number, doc.header.kind) == ("李四", "某政提〔2023〕2号", "政协提案")
    assert doc.addressee is not None and doc.addressee.text == "李四委员："


def test_issuer_line_needs_a_reply_title_after_it():
    doc = _parse("某市人民政府办公室\n今天天气很好，大家去公园散步。\n")
    assert doc.title == "某市人民政府办公室" and doc.header.issuer == ""
    doc = _parse("某市人民政府办公室\n关于第8号建议的答复\n王五代表：\n收悉。\n")
    assert (doc.title, doc.header.issuer) == ("关于第8号建议的答复", "某市人民政府办公室")


def test_two_fields_on_one_line_and_a_number_line_with_a_signer():
    doc = _parse("某市交通局文件\n某复〔2024〕3号　　签发人：赵六\n关于第3号建议的答复\n"
                 "主办单位：某局　会办单位：某委、某办\n赵六代表：\n收悉。\n")
    assert (doc.header.issuer, doc.header.doc_number, doc.header.signer) == ("某市交通局", "某复〔2024〕3号", "赵六")
    assert (doc.main_unit, doc.co_units) == ("某局", "某委、某办")


def test_missing_facts_stay_empty():
    doc = _parse("关于加强社区治理的几点思考\n社区是基层治理的基础。各地做法不一。\n")
    assert doc.header == HeaderFacts()


def test_page_metadata_is_not_a_field():
    # News exports begin "发布时间：…，正文：……": the whole article is not a 发布日期 value.
    doc = _parse("发布时间：2023-07-26 08:46:02，正文：" + "某地举行活动。" * 10)
    assert doc.fields == {} and doc.header.published == ""


@pytest.mark.parametrize("written,expected", [
    ("2024年7月5日", "2024-07-05"), ("二〇二四年七月五日", "2024-07-05"), ("2024-07-22", "2024-07-22"),
    ("二〇二三年十二月三十一日", "2023-12-31"), ("2024年13月1日", ""), ("联系电话：0851-33226417", ""), ("", ""),
])
def test_normalize_date(written, expected):
    assert normalize_date(written) == expected


def test_closing_lines_give_date_signature_contact_and_cc():
    doc = _parse("对第9号建议的答复\n钱七代表：\n您的建议收悉。已办理。\n感谢您的关心。\n某市水务局\n二〇二四年七月五日\n"
                 "（联系人：孙八，办公室；联系电话：0851-1234567）\n抄送：市人大常委会，市政府办公厅。\n")
    facts = doc.header
    assert (facts.issuer, facts.date, facts.kind) == ("某市水务局", "2024-07-05", "人大代表建议")
    assert (facts.contact, facts.contact_office, facts.phone) == ("孙八", "办公室", "0851-1234567")
    assert facts.cc == ["市人大常委会", "市政府办公厅"]


def test_a_page_publisher_is_the_issuer_when_nothing_else_names_one():
    doc = _parse("关于第4号提案的答复\n发布机构：某市民政局　发布日期：2024-05-06\n周九委员：\n收悉。\n")
    assert (doc.header.issuer, doc.header.published, doc.header.date) == ("某市民政局", "2024-05-06", "")


def test_news_is_not_a_reply():
    # A report about a 政协 meeting names no proposal, and "X发布X关于…" is not a reply's title.
    doc = _parse("市政协十四届二次会议开幕\n记者从市政协获悉，会议今日开幕。\n")
    assert doc.header.kind == "" and doc.header.issuer == ""
    doc = _parse("北京市市场监督管理局发布北京市市场监督管理局关于食品抽检的通告\n本次抽检食品300批次。\n")
    assert doc.header.issuer == ""


def test_signer_and_signing_date_in_the_closing():
    doc = _parse("关于第6号建议的答复\n吴十代表：\n您的建议收悉。已办理。\n某市交通局\n签发人：郑一\n签发日期：2024年3月2日\n")
    assert (doc.header.signer, doc.header.date, doc.header.issuer) == ("郑一", "2024-03-02", "某市交通局")
