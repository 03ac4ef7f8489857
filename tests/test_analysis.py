"""Reading a question once (``QuestionAnalysis``): what each field holds. Real lexicon, no model."""

from __future__ import annotations

import pytest

from assistant.language.lexicon import Lexicon
from assistant.retrieval.analysis import analyse, fact_kinds


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


def test_places_come_with_the_places_they_go_with(lex):
    q = analyse("惠水和北京市的土地政策", lex)
    # Every division of China is a place of the lexicon's; a county goes with its prefecture.
    assert q.places == ("惠水", "北京") and q.place_groups[0] == ("惠水", "黔南")
    assert analyse("东京的土地政策", lex).other_places == ("东京",)
    assert ("惠水",) in q.place_concepts and ("土地",) not in q.place_concepts


def test_years_in_order_without_repeats_and_not_inside_longer_numbers(lex):
    assert analyse("2023年和2024年比2023年多多少？编号20231", lex).years == ("2023", "2024")


def test_questions_about_the_reply_itself(lex):
    assert analyse("这条建议是谁提出来的？", lex).card_intent
    assert analyse("Who proposed suggestion 616?", lex).card_intent
    assert analyse("答复最后的结束语是怎么写的", lex).closing_intent
    plain = analyse("土地要素怎么保障？", lex)
    assert not plain.card_intent and not plain.closing_intent
    # When the reply was sent is the reply's own fact; when a measure starts is not.
    assert analyse("这份答复是哪天发出的？", lex).card_intent
    assert analyse("When was the reply sent?", lex).card_intent
    assert not analyse("这个办法什么时候出台？", lex).card_intent


def test_the_kinds_of_fact_asked_and_the_words_that_ask(lex):
    q = analyse("2024年粮食产量的目标是多少？", lex)
    assert [k.name for k in q.facts] == ["target"]
    assert q.is_ask_word("目标") and not q.is_ask_word("粮食")
    q = analyse("惠水工业园区什么时候开工？", lex)
    assert [k.name for k in q.facts] == ["date"] and q.is_ask_word("开工")
    # Whole English words only: "agglomeRATIOn" asks for no ratio.
    assert analyse("Is there a commission for the urban agglomeration?", lex).facts == ()


def test_framing_words_and_ordinals_frame_the_question(lex):
    q = analyse("第三条里税收有哪些措施？", lex)
    assert {("第三",), ("第三条",), ("措施",)} <= q.framing and ("税收",) not in q.framing


def test_what_a_rewrite_carried_is_marked(lex):
    standalone = "考核那块具体怎么说？（保障 机制）"
    q = analyse(standalone, lex, own="考核那块具体怎么说？")
    carried = {g[0] for g in q.carried}  # a concept's first term is the word typed (synonyms follow)
    assert "保障" in carried and "考核" not in carried
    assert not analyse(standalone, lex).carried  # the user typed it all
    # A follow-up that names nothing of its own leans on the carried words fully.
    assert not analyse("第二点具体怎么做？（推进 要素 市场）", lex, own="第二点具体怎么做？").carried


def test_a_malformed_fact_table_names_its_line(tmp_path):
    table = tmp_path / "asked_facts.tsv"
    table.write_text("# kinds\ndate\tsometimes\t何时\t\\d{4}年\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"asked_facts\.tsv:2: expected"):
        fact_kinds(table)
    assert [k.name for k in fact_kinds()][:2] == ["date", "amount"]
