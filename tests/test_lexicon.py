"""The keyword side's language resources: tokens, query expansion, place names, resource files.

Everything runs on the real jieba with the shipped dictionaries; no network, no model.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from assistant.language.lexicon import Lexicon
from assistant.language.wordlists import RESOURCES_DIR

ROOT = Path(__file__).resolve().parents[1]
SEED_REPLY = ROOT / "corpus" / "reply-616-guiyang.txt"
# shared/ sits beside the repository, both here and in CI.
WORK_REPORTS = ROOT.parent / "shared" / "data" / "gov-work-reports"


def _words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


@pytest.fixture(scope="module")
def seed_tokens(lex: Lexicon) -> list[str]:
    return lex.tokenize(SEED_REPLY.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- place names stay whole

# Short forms of counties and prefectures anywhere in China, from the generated divisions table.
WHOLE_PLACES = _words("惠水 长顺 龙里 贵定 修文 乌当 平坝 清镇 花溪 观山湖 叙州 闵行 临夏 湘潭县")


@pytest.mark.parametrize("place", WHOLE_PLACES)
def test_place_names_stay_whole_in_running_text(lex: Lexicon, place: str) -> None:
    tokens = lex.tokenize(f"支持{place}加快发展现代农业")
    assert place in tokens


def test_place_names_stay_whole_in_the_seed_reply(seed_tokens: list[str]) -> None:
    # 修文—乌当—贵定—龙里—惠水—长顺—平坝—清镇 is the ring road sentence of the seed reply.
    for place in _words("修文 乌当 贵定 龙里 惠水 长顺 平坝 清镇 花溪 贵阳 贵安"):
        assert place in seed_tokens, place


def test_full_forms_are_one_token_and_also_yield_the_short_form(lex: Lexicon) -> None:
    tokens = lex.tokenize("惠水县、观山湖区、清镇市和黔南布依族苗族自治州")
    for word in ["惠水县", "惠水", "观山湖区", "观山湖", "清镇市", "清镇", "黔南布依族苗族自治州", "黔南"]:
        assert word in tokens, word


# ---------------------------------------------------------------- government terms


def test_seed_reply_keeps_its_policy_terms_whole(seed_tokens: list[str]) -> None:
    for term in _words(
        "增减挂钩 营商环境 招商引资 建设用地 占补平衡 冷链物流 信用修复 非法集资 最多跑一次 放管服"
    ):
        assert term in seed_tokens, term


def test_long_terms_also_yield_the_words_inside_them(lex: Lexicon) -> None:
    tokens = lex.tokenize("推动城乡建设用地增减挂钩")
    assert {"城乡建设用地增减挂钩", "建设用地", "用地", "增减挂钩"} <= set(tokens)


def test_no_words_invented_across_word_boundaries(lex: Lexicon) -> None:
    # jieba's cut_for_search would add 民政 (civil affairs) from 人民政府.
    assert "民政" not in lex.tokenize("贵阳市人民政府")


def test_unknown_words_also_give_character_bigrams(lex: Lexicon) -> None:
    word = "贵惠大道"  # not in any dictionary: how jieba cuts it depends on context
    tokens = lex.tokenize(f"建设{word}南部城市走廊")
    assert "贵惠" in tokens or word in tokens


# ---------------------------------------------------------------- stopwords


def test_stopwords_are_dropped(lex: Lexicon) -> None:
    tokens = lex.tokenize("请问关于惠水的土地方面有哪些措施呢？")
    assert tokens == ["惠水", "土地", "措施"]
    assert lex.tokenize("What is the land policy of the city?") == ["land", "policy", "city"]


def test_is_stopword(lex: Lexicon) -> None:
    for word in ["的", "哪些", "请问", "什么", "The", "what", "how"]:
        assert lex.is_stopword(word), word
    for word in ["土地", "惠水", "建议", "工作", "情况", "发展", "政策", "问题", "地", "land", "tax"]:
        assert not lex.is_stopword(word), word


def test_punctuation_and_white_space_never_become_tokens(lex: Lexicon) -> None:
    tokens = lex.tokenize("一、关于“参照东西部协作”的建议（一）\n\t……——《规划》")
    assert all(re.search(r"[^\W_]", t) for t in tokens), tokens


# ---------------------------------------------------------------- query terms


def test_english_question_gets_chinese_terms(lex: Lexicon) -> None:
    terms = lex.query_terms("what measures address land for Huishui?")
    assert {"土地", "用地", "惠水"} <= set(terms)
    assert {"land", "measure"} <= set(terms)  # kept for English documents
    assert "what" not in terms and "for" not in terms


def test_multiword_phrases_win_over_single_words(lex: Lexicon) -> None:
    terms = lex.query_terms("How is investment attraction linked to the business environment?")
    assert {"招商引资", "营商环境"} <= set(terms)
    assert "投资" not in terms  # "investment" alone is not what was asked


def test_plurals_hyphens_and_apostrophes(lex: Lexicon) -> None:
    assert {"税收", "减税降费"} <= set(lex.query_terms("tax cuts and taxes"))
    assert "贵安" in lex.query_terms("Gui'an New Area")
    assert {"惠水", "长顺"} <= set(lex.query_terms("the Huishui-Changshun town cluster"))
    assert {"研发", "数字人民币"} <= set(lex.query_terms("R&D and the e-CNY pilot"))


def test_who_proposed_maps_to_the_header_field(lex: Lexicon) -> None:
    assert "代表提案者" in lex.query_terms("Who proposed suggestion 616?")


def test_capitalised_glossary_keys_need_capitals(lex: Lexicon) -> None:
    assert "贵定" in lex.query_terms("Cooperation between Guiding and Longli")
    assert "贵定" not in lex.query_terms("the guiding principles of the work report")


def test_plan_to_is_a_verb_not_a_plan(lex: Lexicon) -> None:
    assert ("规划", "计划", "方案") not in lex.query_concepts("How does the reply plan to cut red tape?")
    assert ("规划", "计划", "方案") in lex.query_concepts("What does the plan say about land?")
    assert lex.glossary_phrases("How does the reply plan to cut red tape?") == ["red tape"]
    assert lex.glossary_phrases("It plans to cut red tape", non_terms=True) == ["plans to"]


def test_everyday_words_meet_the_replies_words(lex: Lexicon) -> None:
    concepts = lex.query_concepts("往南跟惠水那边呢？")
    assert ("往南", "南部", "南向") in concepts and ("惠水",) in concepts
    assert {"跑腿", "群众"} <= set(lex.query_terms("老百姓办事来回跑的问题"))
    # A target the tokenizer splits contributes its words of two characters or more, never a lone 跑.
    assert all(len(t) >= 2 for group in lex.query_concepts("办事来回跑") for t in group)
    lines = [line for line in (RESOURCES_DIR / "colloquial.tsv").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert lines and all(line.count("\t") == 1 for line in lines)


def test_mixed_language_question(lex: Lexicon) -> None:
    terms = lex.query_terms("惠水的land policy")
    assert {"惠水", "land", "土地", "policy", "政策"} <= set(terms)


def test_query_terms_have_no_repeats(lex: Lexicon) -> None:
    terms = lex.query_terms("土地 land 土地 land use")
    assert len(terms) == len(set(terms))


# ---------------------------------------------------------------- places


def test_places_in_finds_short_and_full_forms(lex: Lexicon) -> None:
    assert lex.places_in("惠水县和长顺") == ["惠水", "长顺"]
    assert lex.places_in("黔南布依族苗族自治州、平坝区、清镇市") == ["黔南", "平坝", "清镇"]


def test_places_in_reads_pinyin(lex: Lexicon) -> None:
    assert lex.places_in("Huishui County and Changshun near Gui'an New Area") == ["惠水", "长顺", "贵安"]
    assert {"叙州", "宜宾"} <= set(lex.places_in("Xuzhou District of Yibin"))  # 徐州 reads so too
    assert lex.places_in("Xi Jinping said") == []
    assert set(lex.places_in("Jinping County")) == {"锦屏", "金平"}  # two counties read so


def test_places_in_ignores_place_names_inside_other_words(lex: Lexicon) -> None:
    assert lex.places_in("建设山水城市，从江苏引进企业，维护公正安全，长江口") == ["江苏"]  # not 从江


def test_ambiguous_short_forms_need_a_neighbouring_place(lex: Lexicon) -> None:
    assert "沿河" in lex.place_names.ambiguous
    assert lex.places_in("加强沿河地区生态保护") == []
    assert lex.places_in("思南、沿河、德江三县") == ["思南", "沿河", "德江"]
    assert lex.places_in("沿河县") == ["沿河"]


def test_a_division_named_by_an_ordinary_word_is_a_place_only_beside_one(lex: Lexicon) -> None:
    # 晋城市城区, 阳泉市城区: "城区" is also "the urban districts" of any city.
    assert lex.places_in("从城区调来的老师有几个？") == []
    assert lex.places_in("晋城市城区的老旧小区") == ["晋城", "城区"]


def test_places_in_the_seed_reply(lex: Lexicon) -> None:
    places = lex.places_in(SEED_REPLY.read_text(encoding="utf-8"))
    for place in _words(
        "贵阳 黔南 贵定 龙里 惠水 长顺 修文 乌当 平坝 清镇 花溪 贵安"
    ):
        assert place in places, place
    assert len(places) == len(set(places))


def test_canonical_place(lex: Lexicon) -> None:
    cases = {
        "惠水": "惠水",
        "惠水县": "惠水",
        "平坝区": "平坝",
        "清镇市": "清镇",
        "清镇": "清镇",
        "黔南州": "黔南",
        "黔南布依族苗族自治州": "黔南",
        "三都水族自治县": "三都",
        "威宁自治县": "威宁",
        "六枝特区": "六枝",
        "贵安新区": "贵安",
        "盘县": "盘州",  # a former name (2017)
        "Huishui": "惠水",
        "Longli County": "龙里",
        "Gui'an New Area": "贵安",
        "叙州区": "叙州",
        "湘潭县": "湘潭县",  # its short form would be the city's
        "湘西州": "湘西",
    }
    for name, canonical in cases.items():
        assert lex.canonical_place(name) == canonical, name
    assert lex.canonical_place("土地") is None


def test_cluster_of(lex: Lexicon) -> None:
    # A county goes with its prefecture; a short form two counties share with both prefectures.
    assert lex.cluster_of("惠水") == ["惠水", "黔南"]
    assert lex.cluster_of("Longli County") == ["龙里", "黔南"]
    assert lex.cluster_of("叙州区") == ["叙州", "宜宾"]
    assert set(lex.cluster_of("白云")) == {"白云", "贵阳", "广州"}
    assert lex.cluster_of("贵州") == ["贵州"]
    assert lex.cluster_of("无此地") == ["无此地"]


# ---------------------------------------------------------------- the resource files


def test_gov_terms_is_a_jieba_user_dictionary() -> None:
    lines = (RESOURCES_DIR / "gov_terms.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 300
    assert all(line.startswith("#") or re.fullmatch(r"\S+ \d+ [a-z]+", line) for line in lines)
    words = [line.split()[0] for line in lines if not line.startswith("#")]
    assert len(words) == len(set(words))


def test_every_county_of_china_is_listed_with_pinyin(lex: Lexicon) -> None:
    names = lex.place_names
    counties = {c for form, c in names.canonical.items() if form.endswith(("县", "区", "旗"))}
    assert len(counties) > 2500
    for county in _words("南明 云岩 花溪 观山湖 惠水 三都 叙州 闵行 湘潭县 东城 南沙"):
        assert county in counties, county
    read = {short for places in names.pinyin.values() for _, short in places}
    assert not {c for c in counties if c not in read and c in names.full_forms - set(names.canonical.values())}
    assert names.pinyin["huishui"] == [(3, "惠水")]


def test_place_tables_are_read_from_their_files(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    shutil.copytree(RESOURCES_DIR, resources)
    with open(resources / "place_areas.tsv", "a", encoding="utf-8") as f:
        f.write("测试新区\t测试\tceshi\n")
    lex = Lexicon(resources, cache_dir=tmp_path)
    assert lex.places_in("测试新区的政策") == ["测试"]
    assert lex.canonical_place("Ceshi New Area") == "测试"
    assert Lexicon.default().canonical_place("测试新区") is None


def test_a_malformed_place_table_names_its_file_and_line(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    shutil.copytree(RESOURCES_DIR, resources)
    with open(resources / "divisions.tsv", "a", encoding="utf-8") as f:
        f.write("520199 3 试验区 试验\n")  # spaces where the tabs belong
    with pytest.raises(ValueError, match=r"divisions\.tsv:\d+: expected 'adcode<TAB>level"):
        Lexicon(resources)


def test_fingerprint_changes_with_the_files_that_decide_the_cut(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    shutil.copytree(RESOURCES_DIR, resources)
    before = Lexicon(resources).fingerprint
    with open(resources / "colloquial.tsv", "a", encoding="utf-8") as f:
        f.write("娃子\t孩子\n")  # read on the question's side only
    assert Lexicon(resources).fingerprint == before
    with open(resources / "place_areas.tsv", "a", encoding="utf-8") as f:
        f.write("试验新区\t试验\tshiyan\n")  # a new place name: tokens change
    assert Lexicon(resources).fingerprint != before


def test_glossary_and_stopwords_are_sane(lex: Lexicon) -> None:
    assert len(lex.glossary) >= 300  # with the divisions' pinyin
    lines = [
        line
        for line in (RESOURCES_DIR / "glossary.tsv").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert all(line.count("\t") == 1 for line in lines)
    # Conservative stopwords: no word that carries meaning in a reply.
    for word in ["工作", "建议", "发展", "政策", "情况", "问题", "土地", "地", "市", "县", "not", "no"]:
        assert word not in lex.stopwords, word


# ---------------------------------------------------------------- loading, cache, speed


def test_load_is_quiet_and_uses_the_compact_dictionary(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    first = Lexicon(cache_dir=tmp_path)  # an empty folder: jieba builds its prefix dictionary
    cold_tokens = first.tokenize("惠水县和长顺的土地要素")
    cold = time.perf_counter() - started
    assert (tmp_path / "jieba.cache").is_file()  # jieba's own, read once to write the compact files
    assert len(list(tmp_path.glob("assistant-jieba-*"))) == 2  # the trie and the counts, mapped from now on

    started = time.perf_counter()
    second = Lexicon(cache_dir=tmp_path)
    warm_tokens = second.tokenize("惠水县和长顺的土地要素")
    warm = time.perf_counter() - started

    out, err = capfd.readouterr()
    assert out == "" and err == "", "loading printed something"
    assert warm_tokens == cold_tokens == ["惠水", "惠水县", "长顺", "土地", "要素", "土地要素"]
    print(f"\nlexicon load: {cold:.2f} s without a cache, {warm:.2f} s from the compact dictionary")
    assert warm < 2.0


def test_default_is_shared() -> None:
    assert Lexicon.default() is Lexicon.default()


def test_tokenize_speed_is_reported() -> None:
    reports = sorted(WORK_REPORTS.glob("*.txt")) if WORK_REPORTS.is_dir() else []
    text = "\n".join(p.read_text(encoding="utf-8") for p in reports) or SEED_REPLY.read_text(encoding="utf-8")
    fresh = Lexicon()  # an empty block memo: measure new text, not repeats
    fresh.tokenize("预热")
    started = time.perf_counter()
    tokens = fresh.tokenize(text)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    fresh.tokenize(text)
    warm = time.perf_counter() - started
    size = len(text.encode("utf-8")) / 1e6
    print(
        f"\ntokenize: {size:.2f} MB, {len(tokens)} tokens, {size / cold:.2f} MB/s new text, "
        f"{size / warm:.1f} MB/s seen text"
    )
    assert tokens


def test_other_places_are_names_outside_the_divisions(lex: Lexicon) -> None:
    # Every division of China is the lexicon's own place now; other places are the rest of the world.
    assert lex.places_in("2023年北京市的地方政府专项债券额度是多少？") == ["北京"]
    assert lex.other_places("2023年北京市的地方政府专项债券额度是多少？") == []
    assert "东京" in lex.other_places("东京在城市更新方面有什么经验？")
    # Generic place nouns and counts name no place.
    assert lex.other_places("山区的特色农业和城镇用地，四县怎么办？") == []
    # Real names elsewhere, rivers included; not the everyday words jieba's dictionary also tags ns.
    assert lex.other_places("长江和沱江的污水谁来管？欧洲怎么做的？") == ["长江", "沱江", "欧洲"]
    for question in ("房子三四层高的话消防上要装个么子东西？", "坐一趟社区小巴士要几块钱？",
                     "托管一个礼拜搞几天？", "那些山山水水的生态保护有没有一起搞的打算？"):
        assert lex.other_places(question) == [], question
