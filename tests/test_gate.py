"""The facts about language the gate's features are computed from (anchors, the asked-for fact),
on hand-built candidates: no model, no index; and the decision from the model's probability.

The rules on coverage, the dense margin, list agreement and the card that decided before are now
features of the learned gate (tests/test_features.py); what the shipped gate refuses over a real
index is pinned in tests/test_learned_gate.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant.index.keyword_index import KeywordIndex
from assistant.language.lexicon import Lexicon
from assistant.retrieval.analysis import analyse, asked_facts
from assistant.retrieval.gate import answer_type_missing, decide, known_concepts, unanchored
from assistant.retrieval.model import LinearModel
from assistant.schema import Chunk, ScoredChunk


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


def section(text: str, title: str = "贵阳市人民政府关于第616号代表建议的答复", kind: str = "section",
            coverage: float = 0.0, dense_rank: int | None = None, lexical_rank: int | None = None,
            cid: str = "c") -> ScoredChunk:
    chunk = Chunk(chunk_id=cid, doc_id="d", doc_title=title, text=text, index_text=f"{title}\n{text}", kind=kind)
    return ScoredChunk(chunk, 1.0, dense_rank=dense_rank, lexical_rank=lexical_rank, coverage=coverage)


# ---- anchors: places and years -------------------------------------------------------------------
def test_a_named_place_must_appear_in_what_would_answer(lex):
    analysis = analyse("惠水的土地政策有哪些？", lex)
    assert unanchored(analysis, [section("保障土地要素供给。")]) == ["惠水"]
    assert unanchored(analysis, [section("支持惠水县保障土地要素。")]) == []
    # Its prefecture counts (惠水 is in 黔南): a section on 黔南州 is about the question's area.
    assert unanchored(analysis, [section("支持黔南州保障土地要素。")]) == []


def test_a_place_elsewhere_must_appear_too_with_or_without_its_suffix(lex):
    analysis = analyse("北京市的专项债券额度怎么安排？", lex)
    assert unanchored(analysis, [section("安排地方政府专项债券。")]) == ["北京"]
    assert unanchored(analysis, [section("北京加快发行专项债券。")]) == []


def test_a_named_year_must_appear_in_the_section_or_its_documents_title(lex):
    analysis = analyse("2026年的经济增长目标是多少？", lex)
    assert unanchored(analysis, [section("经济增长5%左右。", title="2025年政府工作报告")]) == ["2026"]
    assert unanchored(analysis, [section("经济增长5%左右。", title="2026年政府工作报告")]) == []
    assert unanchored(analysis, [section("2026年经济增长5%左右。", title="政府工作报告")]) == []


# ---- the asked-for fact, next to the subject -----------------------------------------------------
SUBJECT = [(("产业转移",), 6.0), (("企业",), 1.0), (("税收",), 3.0), (("分成",), 4.0)]


def test_a_question_for_a_kind_of_fact_needs_a_section_that_states_one(lex):
    kinds = asked_facts("惠水工业园区什么时候开工？")
    assert [k.name for k in kinds] == ["date"]
    assert answer_type_missing(kinds, ["加快惠水工业园区建设。"]) == "date"
    assert answer_type_missing(kinds, ["惠水工业园区于2023年3月开工。"]) == ""


def test_the_fact_must_stand_next_to_the_questions_subject():
    kinds = asked_facts("产业转移企业的税收按什么比例分成？")
    elsewhere = "全年税收收入增长8%。加快财税体制改革。研究产业转移企业税收分享办法。"
    assert answer_type_missing(kinds, [elsewhere], SUBJECT) == "ratio"
    # The sentence before counts as the fact's context.
    beside = "研究产业转移企业税收分享办法。迁出地与迁入地按4:6比例分成。"
    assert answer_type_missing(kinds, [beside], SUBJECT) == ""


def test_the_words_that_ask_and_the_years_are_no_part_of_the_subject():
    # "比例" asks; "2024年" is checked by the anchors: the subject is 研发投入 alone.
    kinds = asked_facts("2024年研发投入的比例是多少？")
    concepts = [(("2024",), 8.0), (("研发",), 4.0), (("投入",), 2.0), (("比例",), 6.0)]
    assert answer_type_missing(kinds, ["研发投入占比达到2.6%。"], concepts) == ""


def test_a_year_in_the_documents_title_answers_which_year():
    kinds = asked_facts("哪一年的报告提出新质生产力？")
    concepts = [(("新质生产力",), 7.0)]
    assert answer_type_missing(kinds, ["加快发展新质生产力。"], concepts, ["2024年政府工作报告"]) == ""
    assert answer_type_missing(kinds, ["扩大内需。"], concepts, ["2024年政府工作报告"]) == "date"


def test_a_target_only_picks_sentences_it_never_refuses():
    kinds = asked_facts("2024年粮食产量的目标是多少？")
    assert "target" in [k.name for k in kinds] and not next(k for k in kinds if k.name == "target").refuses
    assert answer_type_missing([k for k in kinds if k.name == "target"], ["稳定粮食生产。"]) == ""


def test_the_fact_check_weighs_only_words_the_index_knows():
    keyword = KeywordIndex()
    keyword.load([("c1", ["税收", "分成", "tax"])])
    snap = dataclasses.make_dataclass("Snap", ["keyword"])(keyword)
    concepts = [(("税收",), 3.0), (("much",), 1.0), (("tax",), 2.0), (("分成",), 4.0)]
    # English words are looked for in English documents, not in the Chinese sentences.
    assert known_concepts(snap, concepts) == [(("税收",), 3.0), (("分成",), 4.0)]


def test_the_issuing_office_anchors_a_place(lex):
    """A reply titled only "对…第219号建议的答复" is still 宁波市交通运输局's: 宁波 is anchored by its issuer."""
    plain = section("目前，乘客持卡在90分钟内公交与地铁换乘享受优惠。", title="对市十六届人大三次会议第219号建议的答复",
                    coverage=1.0)
    question = "在宁波坐地铁再换公交，车费能便宜一点吗？"
    assert "宁波" in unanchored(analyse(question, lex), [plain])
    issued = ScoredChunk(dataclasses.replace(plain.chunk, issuer="宁波市交通运输局"), 1.0, coverage=1.0)
    assert unanchored(analyse(question, lex), [issued]) == []


@pytest.mark.parametrize("question, asks", [
    ("凌毅代表的联系电话是多少？", True),
    ("有问题该联系谁，电话多少？", True),
    ("投诉的联系方式是什么？", True),
    ("What is the phone number of the office?", True),
    ("偏远村子坐车不方便，现在能不能打电话约车？", False),  # a phone as a way of doing something
    ("老人不会用智能手机办事，政府能不能免费发手机？", False),  # a phone as a thing
    ("办事的手机APP有没有适合老年人用的版本？", False),
])
def test_a_contact_is_asked_for_only_with_a_request_for_the_number_or_the_way(question, asks):
    assert ("contact" in [k.name for k in asked_facts(question)]) is asks


def test_the_gate_refuses_below_the_models_threshold_and_says_why():
    model = LinearModel(("a", "b"), np.zeros(2), np.ones(2), np.array([2.0, -1.0]), 0.0, threshold=0.5)
    relevant, evidence = decide(model, np.array([1.0, 0.0]))
    assert relevant and evidence["p_answerable"] == pytest.approx(1 / (1 + np.exp(-2)), abs=1e-4)
    assert list(evidence["features"]) == ["a", "b"] and evidence["threshold"] == 0.5
    assert not decide(model, np.array([0.0, 1.0]))[0]
    # A threshold from the settings overrides the model's.
    assert not decide(model, np.array([1.0, 0.0]), threshold=0.95)[0]
