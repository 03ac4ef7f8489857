"""The reply parser on the seed reply, a government work report, and small documents written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.reading.loaders import RawText, load_file
from assistant.reading.numbers import normalize_suggestion_no
from assistant.reading.parser import chinese_number, parse_reply
from assistant.schema import ReplyDocument, Section

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "reply-616-guiyang.txt"
WORK_REPORTS = Path("/work/shared/data/gov-work-reports")


def _walk(sections: list[Section]) -> list[Section]:
    out: list[Section] = []
    for section in sections:
        out.append(section)
        out.extend(_walk(section.children))
    return out


def _all_sections(doc: ReplyDocument) -> list[Section]:
    extra = [s for s in (doc.addressee, doc.intro, doc.closing) if s is not None]
    return extra + _walk(doc.sections)


def _parse(text: str, doc_id: str = "doc", title: str | None = None) -> ReplyDocument:
    return parse_reply(RawText(doc_id=doc_id, text=text, source=f"{doc_id}.txt", title=title))


@pytest.fixture(scope="module")
def seed() -> ReplyDocument:
    [raw] = load_file(SEED)
    return parse_reply(raw)


# The seed's tree in document order: (path, label). A label of "" is a node's own lead paragraph,
# which carries its parent's path.
SEED_TREE = [
    (("一、",), "一、"),
    (("一、",), ""),
    (("一、", "(一)"), "(一)"),
    (("一、", "(一)", "一是"), "一是"),
    (("一、", "(一)", "二是"), "二是"),
    (("一、", "(一)", "三是"), "三是"),
    (("一、", "(二)"), "(二)"),
    (("一、", "(二)", "一是"), "一是"),
    (("一、", "(二)", "二是"), "二是"),
    (("一、", "(二)", "三是"), "三是"),
    (("一、", "(三)"), "(三)"),
    (("一、", "(三)", "一是"), "一是"),
    (("一、", "(三)", "二是"), "二是"),
    (("一、", "(三)", "三是"), "三是"),
    (("一、", "(三)", "四是"), "四是"),
    (("三、",), "三、"),
    (("三、",), ""),
    (("三、", "一是"), "一是"),
    (("三、", "二是"), "二是"),
    (("三、", "三是"), "三是"),
    (("三、", "四是"), "四是"),
    (("三、", "五是"), "五是"),
]


def test_seed_section_tree_is_exact(seed):
    assert [(s.path, s.label) for s in _walk(seed.sections)] == SEED_TREE
    # The numbering gap (一、 then 三、) is kept as written, not renumbered.
    assert [s.label for s in seed.sections] == ["一、", "三、"]
    leaves = [s.path_label for top in seed.sections for s in top.leaves()]
    assert leaves == ["一、", "一、(一) 一是", "一、(一) 二是", "一、(一) 三是", "一、(二) 一是", "一、(二) 二是",
                      "一、(二) 三是", "一、(三) 一是", "一、(三) 二是", "一、(三) 三是", "一、(三) 四是", "三、",
                      "三、一是", "三、二是", "三、三是", "三、四是", "三、五是"]


def test_seed_offsets_index_the_original_text(seed):
    for section in _all_sections(seed):
        assert seed.text[section.start:section.end] == section.text
        assert section.text == section.text.strip()


def test_seed_header_fields(seed):
    assert seed.title == "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复"
    assert seed.fields == {
        "代表提案者": "凌毅",
        "会议届次": "省十三届人大五次会议",
        "建议提案标题": "关于建立(贵阳)区(黔南)县联动发展,支持环贵阳县市加快“融贵阳”战略实施,助力“强省会”行动的建议",
        "建议提案编号": "第616号",
        "主办单位": "贵阳市人民政府",
        "会办单位": "黔南州人民政府",
        "复文标题": "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复",
    }
    assert (seed.proposer, seed.suggestion_no, seed.session) == ("凌毅", "第616号", "省十三届人大五次会议")
    assert (seed.main_unit, seed.co_units) == ("贵阳市人民政府", "黔南州人民政府")
    assert seed.handling_units == "贵阳市人民政府、黔南州人民政府"
    assert seed.doc_id == "reply-616-guiyang" and seed.source == str(SEED)


def test_seed_addressee_intro_and_closing(seed):
    assert seed.addressee is not None and seed.addressee.text == "凌毅代表:"
    assert seed.intro is not None
    assert seed.intro.text.startswith("您提出的《关于建立(贵阳)区(黔南)县联动发展")
    assert seed.intro.text.endswith("均为黔中城市群的规划和建设提供了重大依据与指导。")
    assert seed.closing is not None
    assert seed.closing.text == "衷心感谢并欢迎您继续关心和支持我市经济社会发展各个方面的工作。"


def test_seed_headings_leads_and_items(seed):
    one, three = seed.sections
    assert one.heading == "关于“参照东西部协作发展模式,将黔南贵定、龙里、惠水、长顺与贵阳的区配对联动,推进共同发展”的建议"
    assert one.text.startswith("一、关于“参照") and one.text.endswith("建立健全守信联合激励和失信联合惩戒机制。")
    lead = one.children[0]
    assert lead.label == "" and lead.heading == "" and lead.path == ("一、",)
    assert lead.text.startswith("目前,我市拟定了《黔中城市群高质量发展规划贵阳思考建议》")
    assert lead.text.endswith("正在积极谋划贵阳贵安与周边区域产业联动发展事宜。")

    first = one.children[1]
    assert (first.label, first.heading) == ("(一)", "加快与黔南协作联动")
    items = first.children
    assert [i.text.split("。")[0] for i in items] == [
        "一是构建“外环”城市经济圈", "二是探索与贵阳特色优势产业合作新业态新模式,带动黔南融入都市圈发展格局",
        ("三是谋划提出“推动贵阳贵安东向联动龙里、贵定等地区,建设贵龙大道东部城市走廊,协同双龙航空港经济区建设综合物流枢纽,"
        "深化临空经济、现代物流、先进装备制造业等产业协作,打造航空航天产业集群”等发展思路、谋划提出“贵阳贵安南向联动惠水、"
        "广顺等地区,建设贵惠大道南部城市走廊,协同贵安新区、花溪区发展,深化大数据产业、特色食品加工、文旅康养、商贸物流等产业协作,"
        "建设南部科创经济走廊”等发展思路、谋划提出“按照种植在全省、加工在贵阳贵安思路,大力推进贵阳贵安与周边地区开展农产品种植业和"
        "精深加工业合作,协同发展果蔬、禽肉包供,农产品物流等产业,协同推进农业现代化”等发展思路")]
    # One paragraph, three items: each runs from its label to just before the next one.
    assert items[0].end == items[1].start and items[1].end == items[2].start
    assert items[0].text.endswith("培育贵定—龙里城镇组团。")
    assert items[2].text.endswith("协同推进农业现代化”等发展思路。")
    assert one.children[2].heading == "推进要素市场一体化建设"
    assert one.children[3].children[3].text.startswith("四是统一监管标准")

    assert three.heading == "关于“建立联动发展保障机制,通过指标考核、招商引资等方式推动该机制落地落实”的建议"
    assert three.children[0].text == "在我市拟定的《黔中城市群高质量发展规划贵阳思考建议》中,对建立联动发展保障机制做出了如下考虑:"
    five = three.children[-1]
    assert five.label == "五是" and five.text.startswith("五是扩大社会参与。")
    assert five.text.endswith("汇聚形成推动城市群建设的强大合力。")


def test_seed_leaves_partition_the_body(seed):
    """Every non-space character after the header is in exactly one leaf, heading line, or the
    addressee/intro/closing."""
    covered = [0] * len(seed.text)
    parts = [seed.addressee, seed.intro, seed.closing] + [
        leaf for top in seed.sections for leaf in top.leaves()]
    for part in parts:
        for i in range(part.start, part.end):
            covered[i] += 1
    assert max(covered) == 1
    body_start = seed.addressee.start
    uncovered = "".join(ch for i, ch in enumerate(seed.text) if i >= body_start and not covered[i]).split()
    assert uncovered == ["一、关于“参照东西部协作发展模式,将黔南贵定、龙里、惠水、长顺与贵阳的区配对联动,推进共同发展”的建议",
                         "(一)加快与黔南协作联动", "(二)推进要素市场一体化建设", "(三)提升营商环境竞争力",
                         "三、关于“建立联动发展保障机制,通过指标考核、招商引资等方式推动该机制落地落实”的建议"]


# ---- a document without a header ------------------------------------------------------------------


@pytest.mark.skipif(not (WORK_REPORTS / "2024-government-work-report.txt").exists(),
                    reason="work reports not available")
def test_work_report_2024_parses_into_sections_and_items():
    [raw] = load_file(WORK_REPORTS / "2024-government-work-report.txt")
    doc = parse_reply(raw)
    assert doc.title == "2024年中华人民共和国国务院政府工作报告"
    assert doc.fields == {} and doc.suggestion_no == "" and doc.proposer == ""
    assert [(s.label, s.heading) for s in doc.sections] == [
        ("一、", "2023年工作回顾"),
        ("二、", "2024年经济社会发展总体要求和政策取向"),
        ("三、", "2024年政府工作任务"),
    ]
    assert doc.addressee is not None and doc.addressee.text == "各位代表："
    assert doc.intro is not None and "现在，我代表国务院，向大会报告政府工作" in doc.intro.text

    review = doc.sections[0]
    items = [c for c in review.children if c.label]
    assert [c.label for c in items] == ["一是", "二是", "三是", "四是", "五是", "六是"]
    assert items[0].text.startswith("一是加大宏观调控力度，推动经济运行持续好转。")
    assert [c.label for c in review.children if not c.label] == ["", ""]  # lead and tail paragraphs

    tasks = doc.sections[2]
    subsections = [c for c in tasks.children if c.label]
    assert [c.path for c in subsections] == [("三、", f"({n})") for n in "一二三四五六七八九十"]
    assert subsections[0].label == "（一）"  # as written; only the path is normalised
    assert subsections[0].heading == "大力推进现代化产业体系建设，加快发展新质生产力"
    assert subsections[0].text.startswith("（一）大力推进现代化产业体系建设")
    for section in _all_sections(doc):
        assert raw.text[section.start:section.end] == section.text


@pytest.mark.skipif(not WORK_REPORTS.exists(), reason="work reports not available")
def test_every_work_report_parses_with_exact_offsets():
    for path in sorted(WORK_REPORTS.glob("*.txt")):
        [raw] = load_file(path)
        doc = parse_reply(raw)
        assert doc.title.endswith("政府工作报告"), path
        assert [s.label for s in doc.sections][:2] == ["一、", "二、"], path
        for section in _all_sections(doc):
            assert raw.text[section.start:section.end] == section.text


def test_news_article_is_one_intro():
    text = "2023-08-11 15:10，正文：中新网约翰内斯堡8月10日电 (记者 王曦)中国-南非企业贸易对接会10日举行。活动吸引了280多人参加。"
    doc = _parse(text, "news-00001")
    assert doc.sections == [] and doc.closing is None and doc.addressee is None
    assert doc.intro is not None and doc.intro.text == text
    assert doc.title == "中新网约翰内斯堡8月10日电 (记者 王曦)中国-南非企业贸易对接会10日举行"


def test_items_without_block_sections_become_top_level_sections():
    text = ("关于第12号建议的答复\n张三代表：\n您的建议收悉，答复如下：一是加快建设。二是强化保障。\n"
            "另外，我们将持续跟进。\n特此答复。\n某某市交通运输局\n2023年5月6日")
    doc = _parse(text)
    assert doc.proposer == "张三" and doc.suggestion_no == "第12号"
    assert doc.intro.text == "您的建议收悉，答复如下："
    assert [(s.path, s.text) for s in doc.sections] == [
        (("一是",), "一是加快建设。"), (("二是",), "二是强化保障。"), (("第2段",), "另外，我们将持续跟进。")]
    assert doc.closing.text == "特此答复。\n某某市交通运输局\n2023年5月6日"


# ---- header variants --------------------------------------------------------------------------------


def test_header_field_variants_and_full_width_colons():
    text = ("关于加强社区养老服务的答复\n"
            "提案人：王五\n"
            "会议届次：市十五届人大二次会议\n"
            "建议编号：0123\n"
            "承办单位：市民政局\n"
            "协办单位：市财政局、市卫健委\n"
            "答复内容：王五代表：\n"
            "您的建议收悉。\n"
            "一、基本情况\n"
            "我市共有养老机构50家。\n")
    doc = _parse(text)
    assert doc.title == "关于加强社区养老服务的答复"
    assert doc.fields == {"代表提案者": "王五", "会议届次": "市十五届人大二次会议", "建议提案编号": "0123",
                          "主办单位": "市民政局", "会办单位": "市财政局、市卫健委"}
    assert doc.suggestion_no == "第123号"
    assert doc.handling_units == "市民政局、市财政局、市卫健委"
    assert doc.addressee.text == "王五代表："  # the 答复内容 value starts the body
    assert doc.intro.text == "您的建议收悉。"
    assert [s.text for s in doc.sections] == ["一、基本情况\n我市共有养老机构50家。"]


def test_number_and_session_from_the_title_when_no_fields():
    doc = _parse("市人民政府关于市十六届人大三次会议第 45 号代表建议的答复\n李四委员：\n收悉。")
    assert doc.suggestion_no == "第45号"
    assert doc.session == "市十六届人大三次会议"
    assert doc.proposer == "李四"
    assert doc.addressee.text == "李四委员："


@pytest.mark.parametrize("value, expected", [
    ("第616号", "第616号"), ("616", "第616号"), ("616号", "第616号"), ("第 616 号", "第616号"),
    ("第６１６号", "第616号"), ("黔人大建〔2022〕第616号", "第616号"), ("", ""), ("无", ""),
])
def test_normalize_suggestion_no(value, expected):
    assert normalize_suggestion_no(value) == expected


@pytest.mark.parametrize("text, value", [("一", 1), ("十", 10), ("十一", 11), ("二十九", 29), ("一百零五", 105),
                                         ("12", 12)])
def test_chinese_number(text, value):
    assert chinese_number(text) == value


# ---- labels -----------------------------------------------------------------------------------------


def test_nested_label_styles_and_full_width_brackets():
    text = ("标题\n"
            "一、总体情况\n"
            "（一）工作进展\n"
            "1．完成规划编制。\n"
            "（1）启动调研。\n"
            "（2）形成初稿。\n"
            "2、开展试点。\n"
            "（二）下一步打算\n"
            "继续推进。\n"
            "二、存在问题\n"
            "资金不足。")
    doc = _parse(text)
    assert [(s.path, s.label) for s in _walk(doc.sections)] == [
        (("一、",), "一、"),
        (("一、", "(一)"), "（一）"),
        (("一、", "(一)", "1."), "1．"),
        (("一、", "(一)", "1.", "(1)"), "（1）"),
        (("一、", "(一)", "1.", "(2)"), "（2）"),
        (("一、", "(一)", "2、"), "2、"),
        (("一、", "(二)"), "（二）"),
        (("二、",), "二、"),
    ]
    one_one = doc.sections[0].children[0].children[0]
    assert one_one.heading == "完成规划编制" and one_one.text.startswith("1．完成规划编制。")


def test_chapters_and_articles():
    text = "某某条例\n第一章　总则\n第一条　为了规范管理，制定本条例。\n第二条　本条例适用于本市。\n第二章　附则\n第三条　本条例自公布之日起施行。"
    doc = _parse(text)
    assert [s.path_label for s in _walk(doc.sections)] == [
        "第一章", "第一章 第一条", "第一章 第二条", "第二章", "第二章 第三条"]


def test_things_that_only_look_like_labels():
    text = ("标题\n"
            "一、总体情况\n"
            "坚持统一是前提，团结一致。全面推进。\n"  # 统一是 is a word, not an item
            "2.5万亿元的投资已到位。\n"  # a decimal, not "2."
            "一、二线城市房价企稳。\n"  # numbering going backwards: ordinary text
            "只有一是不够的。\n"  # a lone 一是 with no 二是 is not an enumeration
            "三、下一步")
    doc = _parse(text)
    assert [s.path for s in _walk(doc.sections)] == [("一、",), ("三、",)]
    assert "一、二线城市房价企稳。" in doc.sections[0].text


def test_item_labels_after_colons_and_semicolons_and_paragraph_starts():
    text = ("标题\n一、措施\n主要有：一是加强领导；二是完善机制。\n三是强化考核。\n此外，还将加强宣传。")
    doc = _parse(text)
    one = doc.sections[0]
    assert [(c.label, c.text) for c in one.children] == [
        ("", "主要有："), ("一是", "一是加强领导；"), ("二是", "二是完善机制。"), ("三是", "三是强化考核。"),
        ("", "此外，还将加强宣传。")]
    assert [c.path for c in one.children] == [("一、",), ("一、", "一是"), ("一、", "二是"), ("一、", "三是"), ("一、",)]


def test_markdown_headings_and_title():
    doc = _parse("# 关于某事的答复\n\n## 一、基本情况\n内容一。\n## 二、下一步\n内容二。")
    assert doc.title == "关于某事的答复"
    assert [(s.label, s.heading, s.text.split("\n")[1]) for s in doc.sections] == [
        ("一、", "基本情况", "内容一。"), ("二、", "下一步", "内容二。")]


def test_raw_title_is_used_when_there_is_no_reply_title_field():
    doc = _parse("一、第一部分\n正文。", title="网页标题")
    assert doc.title == "网页标题" and doc.intro is None and len(doc.sections) == 1


def test_empty_body_after_header():
    doc = _parse("标题\n代表提案者：赵六\n建议提案编号：7")
    assert doc.proposer == "赵六" and doc.suggestion_no == "第7号"
    assert doc.sections == [] and doc.intro is None and doc.closing is None
