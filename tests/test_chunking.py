"""Chunking of parsed documents, and the shared text utilities it is built on."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.reading.chunking import card_text, chunk_document, split_text
from assistant.reading.loaders import RawText, load_file
from assistant.reading.parser import parse_reply
from assistant.text import detect_language, normalize_for_match, split_sentences

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "reply-616-guiyang.txt"
WORK_REPORT = Path("/work/shared/data/gov-work-reports/2024-government-work-report.txt")
TITLE = "贵阳市人民政府关于省十三届人大五次会议第616号代表建议的答复"


def _seed_raw() -> RawText:
    [raw] = load_file(SEED)
    return raw


def _chunks(raw: RawText, max_chars: int = 400):
    return chunk_document(parse_reply(raw), max_chars=max_chars)


@pytest.fixture(scope="module")
def seed_chunks():
    return _chunks(_seed_raw())


def test_seed_chunks_follow_the_leaf_sections(seed_chunks):
    assert [(c.kind, c.section) for c in seed_chunks] == [
        ("card", ""), ("intro", ""), ("section", "一、"),
        ("section", "一、(一) 一是"), ("section", "一、(一) 二是"), ("section", "一、(一) 三是"),
        ("section", "一、(二) 一是"), ("section", "一、(二) 二是"), ("section", "一、(二) 三是"),
        ("section", "一、(三) 一是"), ("section", "一、(三) 二是"), ("section", "一、(三) 三是"),
        ("section", "一、(三) 四是"), ("section", "三、"),
        ("section", "三、一是"), ("section", "三、二是"), ("section", "三、三是"), ("section", "三、四是"),
        ("section", "三、五是"), ("closing", "结尾"),
    ]
    assert [c.order for c in seed_chunks] == list(range(len(seed_chunks)))


def test_seed_card(seed_chunks):
    card = seed_chunks[0]
    assert card.kind == "card" and card.section == ""
    assert card.text.split("\n") == [
        "建议提案标题：关于建立(贵阳)区(黔南)县联动发展,支持环贵阳县市加快“融贵阳”战略实施,助力“强省会”行动的建议",
        "建议提案编号：第616号",
        "代表提案者：凌毅",
        "会议届次：省十三届人大五次会议",
        "主办单位：贵阳市人民政府",
        "会办单位：黔南州人民政府",
        "答复单位：贵阳市人民政府",
        "类别：人大代表建议",
        f"复文标题：{TITLE}",
    ]
    assert card.index_text == f"{TITLE}\n{card.text}"
    # Each field is one "sentence", so answers can quote exactly the line asked about.
    assert [card.text[a:b] for a, b in split_sentences(card.text)] == card.text.split("\n")


def test_seed_chunk_texts_offsets_and_index_text(seed_chunks):
    text = SEED.read_text(encoding="utf-8")
    for chunk in seed_chunks[1:]:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.index_text.endswith("\n" + chunk.text)
    by_section = {c.section: c for c in seed_chunks if c.kind == "section"}
    item = by_section["一、(二) 二是"]
    assert item.text.startswith("二是加快推动城市群内土地市场一体化建设")
    assert item.index_text.split("\n")[0] == (
        f"{TITLE} > 一、关于“参照东西部协作发展模式,将黔南贵定、龙里、惠水、长顺与贵阳的区配对联动,推进共同发展”的建议"
        " > (二)推进要素市场一体化建设")
    lead = by_section["一、"]
    assert lead.text.startswith("目前,我市拟定了") and lead.index_text.startswith(f"{TITLE} > 一、关于“参照")
    assert seed_chunks[1].index_text.startswith(f"{TITLE}\n您提出的")
    assert seed_chunks[-1].text == "衷心感谢并欢迎您继续关心和支持我市经济社会发展各个方面的工作。"


def test_seed_chunk_metadata_is_flat_and_complete(seed_chunks):
    for chunk in seed_chunks:
        meta = chunk.metadata()
        assert all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in meta.values())
        assert chunk.doc_id == "reply-616-guiyang" and chunk.doc_title == TITLE
        assert (chunk.suggestion_no, chunk.proposer, chunk.session) == ("第616号", "凌毅", "省十三届人大五次会议")
        assert chunk.units == "贵阳市人民政府、黔南州人民政府"
        assert chunk.source == str(SEED)
        assert chunk.chunk_id.startswith("reply-616-guiyang:")
    assert len({c.chunk_id for c in seed_chunks}) == len(seed_chunks)


@pytest.mark.parametrize("max_chars", [50, 100, 200, 400])
def test_chunks_respect_max_chars_and_never_merge_sections(max_chars):
    raw = _seed_raw()
    doc = parse_reply(raw)
    chunks = chunk_document(doc, max_chars=max_chars)
    leaves = {leaf.path_label: leaf for top in doc.sections for leaf in top.leaves()}
    for chunk in chunks:
        if chunk.kind == "card":
            continue  # a handful of short lines, never split
        assert len(chunk.text) <= max_chars
        assert raw.text[chunk.start:chunk.end] == chunk.text
        if chunk.kind == "section":  # inside its own leaf
            leaf = leaves[chunk.section]
            assert leaf.start <= chunk.start and chunk.end <= leaf.end
    # Splitting loses no text: a leaf's pieces, concatenated, give back its words.
    for label, leaf in leaves.items():
        pieces = [c.text for c in chunks if c.section == label and c.kind == "section"]
        assert "".join("".join(pieces).split()) == "".join(leaf.text.split())


def test_long_sections_split_at_sentence_ends():
    chunks = _chunks(_seed_raw(), max_chars=120)
    pieces = [c for c in chunks if c.section == "一、(一) 二是"]
    assert len(pieces) > 1
    text = SEED.read_text(encoding="utf-8")
    sentences = [(a + pieces[0].start, b + pieces[0].start)
                 for a, b in split_sentences(text[pieces[0].start:pieces[-1].end])]
    for piece in pieces[:-1]:
        # A piece ends where a sentence ends, unless that sentence alone is longer than max_chars.
        container = next((a, b) for a, b in sentences if a < piece.end <= b)
        assert piece.end == container[1] or container[1] - container[0] > 120, piece.text
    assert any(p.text[-1] in "。；" for p in pieces[:-1])
    # Later pieces name the item in their heading path, since their text no longer starts with it.
    assert pieces[0].index_text.split("\n")[0].endswith("> (一)加快与黔南协作联动")
    assert pieces[1].index_text.split("\n")[0].endswith("> (一)加快与黔南协作联动 > 二是")


def test_chunk_ids_are_stable_across_runs(seed_chunks):
    again = _chunks(_seed_raw())
    assert [c.chunk_id for c in again] == [c.chunk_id for c in seed_chunks]
    assert [c.index_text for c in again] == [c.index_text for c in seed_chunks]


def test_editing_one_item_changes_only_its_chunk_id(seed_chunks):
    raw = _seed_raw()
    old = "四是完善考核机制。"
    assert raw.text.count(old) == 1
    edited = RawText(doc_id=raw.doc_id, text=raw.text.replace(old, "四是完善考核评价机制。"), source=raw.source)
    after = _chunks(edited)
    assert len(after) == len(seed_chunks)
    changed = [(a.section, b.section) for a, b in zip(seed_chunks, after, strict=True) if a.chunk_id != b.chunk_id]
    assert changed == [("三、四是", "三、四是")]


def test_inserting_a_section_keeps_the_other_ids(seed_chunks):
    raw = _seed_raw()
    anchor = "三、关于“建立联动发展保障机制"
    inserted = "二、关于“新增一节”的建议\n新增的答复内容。\n"
    edited = RawText(doc_id=raw.doc_id, text=raw.text.replace(anchor, inserted + anchor), source=raw.source)
    after = _chunks(edited)
    new_ids = {c.chunk_id for c in after} - {c.chunk_id for c in seed_chunks}
    assert [c.section for c in after if c.chunk_id in new_ids] == ["二、"]
    assert len(after) == len(seed_chunks) + 1


def test_work_report_chunks():
    if not WORK_REPORT.exists():
        pytest.skip("work reports not available")
    [raw] = load_file(WORK_REPORT)
    chunks = chunk_document(parse_reply(raw), max_chars=400)
    assert chunks[0].kind == "intro"  # no header fields: no card
    assert all(c.kind != "card" for c in chunks)
    assert all(len(c.text) <= 400 for c in chunks)
    assert {"一、一是", "三、(一)", "三、(十)"} <= {c.section for c in chunks}
    first_task = next(c for c in chunks if c.section == "三、(一)")
    assert first_task.text.startswith("（一）大力推进现代化产业体系建设")
    assert first_task.index_text.startswith("2024年中华人民共和国国务院政府工作报告 > 三、2024年政府工作任务\n")


def test_identical_chunks_get_distinct_ids():
    raw = RawText("dup", "标题\n一、甲\n同样的内容。\n(一)乙\n同样的内容。\n", "dup.txt")
    doc = parse_reply(raw)
    chunks = chunk_document(doc)
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_card_only_when_there_are_header_fields():
    doc = parse_reply(RawText("plain", "普通文章标题\n正文第一段。", "plain.txt"))
    assert card_text(doc) == ""
    assert [c.kind for c in chunk_document(doc)] == ["intro"]


# ---- split_text -------------------------------------------------------------------------------------


def test_split_text_balances_pieces():
    text = "。".join(["甲" * 49] * 9) + "。"  # 450 characters, nine sentences
    pieces = split_text(text, 400)
    assert len(pieces) == 2
    sizes = [b - a for a, b in pieces]
    assert max(sizes) <= 300  # balanced, not 400 + 50


def test_a_sentence_longer_than_max_is_cut_at_commas_then_hard():
    sentence = "，".join(["乙" * 30] * 10) + "。"  # one 310-character sentence
    pieces = split_text(sentence, 100)
    assert all(b - a <= 100 for a, b in pieces)
    assert all(sentence[b - 1] in "，。" for a, b in pieces)
    no_commas = "丙" * 250
    assert [(b - a) for a, b in split_text(no_commas, 100)] == [100, 100, 50]


def test_split_text_edge_cases():
    assert split_text("", 10) == []
    assert split_text("   ", 10) == []
    assert split_text("  短句。 ", 10) == [(2, 5)]
    with pytest.raises(ValueError):
        chunk_document(parse_reply(RawText("x", "正文。", "x.txt")), max_chars=0)


# ---- text utilities ---------------------------------------------------------------------------------


def test_split_sentences_keeps_terminators_and_respects_quotes_and_brackets():
    text = "他说：“我们要努力。”然后走了。（注：见附件。）末尾！第二行；第三句?\n\n  新段落"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "他说：“我们要努力。”", "然后走了。", "（注：见附件。）末尾！", "第二行；", "第三句?", "新段落"]
    quoted = "谋划提出“推动联动；建设走廊”等发展思路。"
    assert [quoted[a:b] for a, b in split_sentences(quoted)] == [quoted]


def test_split_sentences_closing_marks_stay_with_the_sentence():
    text = "他说“好。”她说“行！”\n《标题。》后文。"
    assert [text[a:b] for a, b in split_sentences(text)] == ["他说“好。”", "她说“行！”", "《标题。》后文。"]


def test_split_sentences_unbalanced_quotes_do_not_swallow_text():
    text = "“未闭合的引号。第二句。"
    assert [text[a:b] for a, b in split_sentences(text)] == ["“未闭合的引号。", "第二句。"]


def test_split_sentences_english():
    text = "Dear deputy Ling. The plan costs 2.5 billion! Is it done? Yes"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Dear deputy Ling.", "The plan costs 2.5 billion!", "Is it done?", "Yes"]


def test_normalize_for_match():
    assert normalize_for_match("第６１６号 （贵阳）“强省会”。") == '第616号(贵阳)"强省会".'
    assert normalize_for_match("Ａ B\u3000c\n") == "abc"
    assert normalize_for_match("惠水、长顺，《规划》") == normalize_for_match("惠水,长顺,<规划>")


@pytest.mark.parametrize("text, language", [
    ("惠水县有哪些安排？", "zh"), ("介绍一下RAG系统", "zh"), ("What about Huishui?", "en"),
    ("What does 惠水 get from the plan?", "en"), ("", "zh"), ("616?", "zh"),
])
def test_detect_language(text, language):
    assert detect_language(text) == language


REPLIES_DEV = ROOT.parent / "shared" / "data" / "replies-dev" / "docs"


@pytest.mark.skipif(not REPLIES_DEV.is_dir(), reason="../shared/data/replies-dev is not here")
def test_the_card_states_what_a_reply_of_any_shape_says_about_itself():
    """Header and closing facts of any header style land on the card, values as written, dates as replies
    write them; what a reply does not state is not on its card."""
    from assistant.reading.loaders import load_file

    def card(name: str) -> list[str]:
        return card_text(parse_reply(load_file(REPLIES_DEV / name)[0])).split("\n")

    hangzhou = card("hangzhou-housing-rd163.txt")  # 文号 line with 签发人; contact and 抄送 in the closing
    assert {"文号：杭房保复〔2024〕22号", "签发人：沈立新", "签发日期：2024年7月18日", "联系人：方晓东（住房保障处）",
            "联系电话：0571-87052386", "答复单位：杭州市住房保障和房产管理局", "类别：人大代表建议"} <= set(hangzhou)
    wenzhou = card("wenzhou-food-safety-zx0264.md")  # bold Markdown field lines
    assert {"代表提案者：黄志坚委员等5人", "办理结果：A类", "类别：政协提案"} <= set(wenzhou)
    liupanshui = card("liupanshui-elderly-zx37.txt")  # 承办单位：X（主办）、Y（协办）, stated once
    # under the names the reply writes its fields with, so that a citation quotes it as written
    assert {"承办单位：六盘水市民政局（主办）、六盘水市财政局（协办）", "提案人：王德贵委员"} <= set(liupanshui)
    assert not any(line.startswith("会办单位") for line in liupanshui)
    leishan = card("leishan-tourism-rd58.txt")  # a title line and unnumbered paragraphs: no contact given
    assert not any(line.startswith(("联系电话", "联系人", "文号")) for line in leishan)
    assert leishan[-1] == "复文标题：对县十八届人大四次会议第58号建议的答复"
