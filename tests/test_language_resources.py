"""The general language resources behind query expansion and place names: 同义词词林, CC-CEDICT,
the colloquial words and China's divisions — real data from the installed packages, real jieba."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.language.lexicon import Lexicon
from assistant.language.thesaurus import Dictionary, Thesaurus, read_cedict, read_cilin
from assistant.language.wordlists import RESOURCES_DIR


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


def _group_of(lex: Lexicon, question: str, word: str) -> tuple[str, ...]:
    return next(g for g in lex.query_concepts(question) if g[0] == word)


# ---------------------------------------------------------------- thesaurus (同义词词林)


def test_a_thesaurus_synonym_joins_the_words_concept(lex: Lexicon) -> None:
    # 工资 and 薪资 share a fine-grained 词林 group (=): a section that says 薪资 covers 工资.
    group = _group_of(lex, "工资标准怎么定", "工资")
    assert "薪资" in group
    # The synonyms join the word's concept: the question has no more concepts than words.
    assert len(lex.query_concepts("工资标准怎么定")) == len(set(lex.tokenize("工资标准怎么定")))
    assert "薪资" in lex.query_terms("工资标准怎么定")


def test_polysemous_words_and_loose_groups_are_not_expanded(lex: Lexicon) -> None:
    # 问题 sits in five 词林 groups (题目, 事故 …): expanding it would drift.
    assert _group_of(lex, "这个问题", "问题") == ("问题",)
    th = lex.expansion.thesaurus
    assert len(th.groups()["问题"]) > 2
    # Only '=' groups: '#' groups (related words) and '@' (isolated) never expand.
    assert all("=" not in w for groups in list(th.groups().values())[:50] for g in groups for w in g)


def test_places_are_not_expanded_as_words(lex: Lexicon) -> None:
    assert ("惠水",) in lex.query_concepts("惠水的工资")


# ---------------------------------------------------------------- colloquial forms


def test_colloquial_and_dialect_words_meet_written_ones(lex: Lexicon) -> None:
    assert {"孩子", "儿童"} <= set(_group_of(lex, "娃儿上学咋办", "娃儿"))
    assert {"欠薪", "工资"} <= set(_group_of(lex, "讨薪找哪个部门", "讨薪"))
    assert "摊贩" in _group_of(lex, "摆摊的地方在哪", "摆摊")
    assert "就医" in _group_of(lex, "看病难", "看病")
    # The longest colloquial form wins: 老人家 is one concept, not 老人家 and 老人.
    concepts = lex.query_concepts("老人家看病")
    assert [g[0] for g in concepts if "老年人" in g] == ["老人家"]
    # Dialect question words are function words.
    assert all(lex.is_stopword(w) for w in ("咋办", "啥子", "咋个"))


# ---------------------------------------------------------------- dictionary (CC-CEDICT)


def test_an_english_word_maps_through_the_dictionary(lex: Lexicon) -> None:
    assert "停车" in lex.query_terms("Where can I find parking?") or "泊车" in lex.query_terms("parking")
    assert _group_of_english(lex, "What about the pension?") >= {"养老金"} or "退休金" in lex.query_terms("pension")
    # Common senses only: "land" is 土地, not 着陆 (landing).
    terms = lex.query_terms("land")
    assert "土地" in terms and "着陆" not in terms


def _group_of_english(lex: Lexicon, question: str) -> set[str]:
    return {t for g in lex.query_concepts(question) for t in g}


def test_the_dictionary_is_read_backwards() -> None:
    senses = Dictionary().senses()
    assert "医院" in senses["hospital"]
    assert "贷款" in senses["loan"]


# ---------------------------------------------------------------- places of all China


def test_a_county_of_another_province_is_recognised_with_its_short_form(lex: Lexicon) -> None:
    assert lex.places_in("叙州区的学校") == ["叙州"]
    assert lex.places_in("叙州和翠屏") == ["叙州", "翠屏"]
    assert lex.canonical_place("叙州区") == "叙州"
    assert lex.cluster_of("叙州") == ["叙州", "宜宾"]
    assert "叙州" in lex.tokenize("支持叙州加快发展")
    # 湘潭县 keeps its full name as its short form: 湘潭 is the city.
    assert lex.places_in("湘潭县和湘潭市") == ["湘潭县", "湘潭"]


def test_short_forms_that_are_ordinary_words_need_a_place_beside_them(lex: Lexicon) -> None:
    assert lex.places_in("加强合作") == []
    assert "合作" in lex.place_names.ambiguous
    assert lex.places_in("合作市") == ["合作"]
    assert lex.places_in("发展经开区产业") == []  # a development zone's short form names no place
    # jieba tags 新建 (南昌's 新建区) as a place: "新建了多少停车泊位" asks about something newly built.
    assert lex.places_in("景区新建了多少停车泊位？") == []
    assert lex.places_in("南昌市新建区的学校") == ["南昌", "新建"]


# ---------------------------------------------------------------- bad resources are clear errors


def test_a_bad_colloquial_line_names_its_file_and_line(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    shutil.copytree(RESOURCES_DIR, resources)
    with open(resources / "colloquial.tsv", "a", encoding="utf-8") as f:
        f.write("娃子 孩子\n")  # a space where the tab belongs
    with pytest.raises(ValueError, match=r"colloquial\.tsv:\d+: expected '口语词<TAB>书面词1\|书面词2'"):
        Lexicon(resources)


def test_a_bad_dictionary_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cedict.txt"
    path.write_text("# CC-CEDICT\n醫院 医院 [yi1 yuan4] /hospital/\n医院 hospital\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cedict\.txt:3: expected 'traditional simplified \[pinyin\] /sense/'"):
        read_cedict(path)
    path.write_text("醫院 医院 [yi1 yuan4] /hospital/CL:家[jia1]/\n", encoding="utf-8")
    assert read_cedict(path) == {"hospital": ("医院",)}


def test_a_bad_thesaurus_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cilin_tree.json"
    path.write_text(json.dumps({"A": {"tag": "人", "sub": {"01=": "人"}}}), encoding="utf-8")
    with pytest.raises(ValueError, match="is not a list of words"):
        read_cilin(path)
    path.write_text(json.dumps({"A": {"tag": "人", "sub": {"01=": ["工资", "薪资"], "02#": ["工资", "奖金"]}}}),
                    encoding="utf-8")
    th = Thesaurus(path=path)
    assert th.synonyms("工资", 8) == ["薪资"]  # the '#' group of related words is not read


def test_parsed_resources_are_cached(tmp_path: Path) -> None:
    Thesaurus(cache_dir=tmp_path).groups()
    assert list(tmp_path.glob("assistant-thesaurus-cilin-*.pickle"))
