"""The learned ranker's and gate's features, on hand-built candidates (no model, no index), and the
model files' loader: a file fitted on other features than the code computes is a clear error."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from assistant.index.keyword_index import KeywordIndex
from assistant.language.lexicon import Lexicon
from assistant.retrieval.analysis import analyse
from assistant.retrieval.features import (
    CANDIDATE_FEATURES,
    GATE_FEATURES,
    STATIC_FEATURES,
    candidate_features,
    question_features,
    static_features,
)
from assistant.retrieval.model import LinearModel, ModelFileError, load_model, shipped_models
from assistant.schema import Chunk, ScoredChunk

Snap = dataclasses.make_dataclass("Snap", ["keyword", "structured_docs"])
BUNCHED = [("c0", 0.86), ("c1", 0.80), ("c2", 0.80), ("c3", 0.79), ("c4", 0.78)]


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


def snap(*words: str) -> Snap:
    keyword = KeywordIndex()
    keyword.load([("c0", list(words) or ["土地"])])
    return Snap(keyword, frozenset({"d"}))


def section(text: str, kind: str = "section", title: str = "关于第616号代表建议的答复", dense_rank: int | None = 1,
            dense_score: float | None = 0.86, cid: str = "c0", doc_kind: str = "") -> ScoredChunk:
    chunk = Chunk(chunk_id=cid, doc_id="d", doc_title=title, text=text, index_text=f"{title}\n{text}", kind=kind,
                  suggestion_no="616", doc_kind=doc_kind)
    return ScoredChunk(chunk, 1.0, dense_score=dense_score, dense_rank=dense_rank, coverage=0.5)


def features(lex, question: str, fused: list[ScoredChunk], dense=BUNCHED, concepts=()) -> dict[str, list[float]]:
    X = candidate_features(snap(), analyse(question, lex), list(concepts), fused, dense, {})
    return {name: X[:, i].tolist() for i, name in enumerate(CANDIDATE_FEATURES)}


def test_one_row_per_candidate_and_nothing_found_is_empty(lex):
    assert candidate_features(snap(), analyse("土地怎么保障？", lex), [], [], [], {}).shape == (0, len(CANDIDATE_FEATURES))
    found = features(lex, "土地怎么保障？", [section("保障土地。"), section("其他。", cid="c1", dense_rank=None,
                                                                          dense_score=None)])
    assert found["fused_rank_inv"] == [1.0, 0.5]
    # The dense evidence is relative: the best cosine above the list's median; unseen = the list's last.
    assert found["dense_vs_median"][0] == pytest.approx(0.06)
    assert found["dense_found"] == [1.0, 0.0] and found["dense_score"][1] == 0.78


def test_a_card_answers_a_question_about_the_reply_not_another(lex):
    card = section("代表提案者：凌毅", kind="card")
    assert features(lex, "这条建议是谁提出来的？", [card])["card_hit"] == [1.0]
    assert features(lex, "土地要素怎么保障？", [card])["card_hit"] == [0.0]


def test_places_and_years_the_question_names_must_be_there(lex):
    found = features(lex, "惠水的土地政策有哪些？", [section("支持惠水县保障土地。"), section("保障土地。", cid="c1")])
    assert found["place_match"] == [1.0, 0.0] and found["place_miss"] == [0.0, 1.0]
    assert found["anchor_miss"] == [0.0, 1.0]
    found = features(lex, "2026年的经济增长目标是多少？",
                     [section("经济增长5%左右。", title="2025年政府工作报告"),
                      section("经济增长5%左右。", title="2026年政府工作报告", cid="c1")])
    assert found["year_miss"] == [1.0, 0.0]


def test_an_asked_for_fact_must_stand_next_to_the_subject(lex):
    concepts = [(("工业园区",), 5.0), (("开工",), 3.0)]
    found = features(lex, "工业园区什么时候开工？",
                     [section("加快工业园区建设。"), section("工业园区于2023年3月开工。", cid="c1")], concepts=concepts)
    assert found["fact_missing"] == [1.0, 0.0] and found["fact_held"] == [0.0, 1.0]
    # A question that asks for no fact has neither.
    assert features(lex, "工业园区怎么建设？", [section("加快工业园区建设。")])["fact_missing"] == [0.0]


def test_the_replys_own_date_and_phone_answer_only_questions_about_the_reply(lex):
    concepts = [(("儿童医学中心",), 6.0), (("开工",), 3.0)]
    closing = section("湖州市卫生健康委员会 2024年7月22日 联系电话：0572-2399178", kind="closing")
    body = section("加快儿童医学中心建设。", cid="c1")
    found = features(lex, "儿童医学中心什么时候开工？", [body, closing], concepts=concepts)
    assert found["fact_anywhere"] == [0.0, 0.0] and found["fact_missing"] == [1.0, 1.0]
    # Asked about the reply itself, the closing's phone is the answer.
    assert features(lex, "这份答复的联系电话是多少？", [closing])["fact_anywhere"] == [1.0]


def test_an_asked_for_fact_counts_only_in_a_sentence_that_names_some_of_the_subject(lex):
    concepts = [(("食堂",), 5.0), (("午餐",), 4.0)]
    other_sums = section("全市建成助餐点386个，投入资金1200万元。")
    priced = section("社区食堂推出老年套餐，每份12元。", cid="c1")
    found = features(lex, "社区食堂一份午餐多少钱？", [other_sums, priced], concepts=concepts)
    assert found["fact_anywhere"] == [0.0, 1.0]
    # 食堂 alone is over half the subject's weight: the price is also held next to it.
    assert found["fact_held"] == [0.0, 1.0]


def test_only_the_answering_document_can_state_the_asked_for_fact(lex):
    concepts = [(("产业转移",), 6.0), (("税收",), 3.0)]
    reply = section("研究制定产业转移企业税收收入分享办法。")
    report = section("税收收入增长8%。", cid="c1")
    report = dataclasses.replace(report, chunk=dataclasses.replace(report.chunk, doc_id="report"))
    found = features(lex, "产业转移企业的税收按什么比例分成？", [reply, report], concepts=concepts)
    assert found["fact_anywhere"] == [0.0, 0.0]
    # The same sentence in the reply itself states it.
    same = section("税收收入增长8%。", cid="c1")
    assert features(lex, "产业转移企业的税收按什么比例分成？", [reply, same], concepts=concepts)["fact_anywhere"] == [0.0, 1.0]


def test_a_follow_up_on_the_conversations_document_is_never_about_nothing(lex):
    # Its words are the citizen's, none of them the text's, and its cosine stands out of nothing.
    analysis = analyse("等车的地方有没有棚子？", lex)
    fused = [dataclasses.replace(section("在中心村建设带候车亭的招呼站。", dense_score=0.80), coverage=0.0)]
    static = static_features(snap(), analysis, [])

    def nothing(focus: dict[str, float]) -> float:
        X = candidate_features(snap(), analysis, [], fused, BUNCHED, focus)
        return dict(zip(GATE_FEATURES, question_features(static, X, np.array([1.0]))))["nothing_matches"]

    assert nothing({}) == 1.0
    assert nothing({"d": 1.0}) == 0.0  # the document the earlier turns are about


def test_the_reply_kind_named_agrees_or_disagrees(lex):
    cppcc = section("办理情况。", doc_kind="政协提案")
    assert features(lex, "这个提案怎么办理的？", [cppcc])["kind_agree"] == [1.0]
    assert features(lex, "这条人大代表建议怎么办理的？", [cppcc])["kind_agree"] == [-1.0]


def test_the_gate_reads_the_candidates_in_the_rankers_order(lex):
    analysis = analyse("工业园区什么时候开工？", lex)
    concepts = [(("工业园区",), 5.0), (("开工",), 3.0)]
    fused = [section("加快工业园区建设。"), section("工业园区于2023年3月开工。", cid="c1")]
    X = candidate_features(snap("工业园区"), analysis, concepts, fused, BUNCHED, {})
    static = static_features(snap("工业园区"), analysis, concepts)
    assert len(static) == len(STATIC_FEATURES)
    x = dict(zip(GATE_FEATURES, question_features(static, X, np.array([2.0, 1.0]))))
    assert len(x) == len(GATE_FEATURES) and x["rank_top"] == 2.0 and x["rank_gap"] == 1.0
    assert x["fact_absent"] == 0.0 and x["fact_missing_covered"] == 0.0  # the dated section is among the first three
    x = dict(zip(GATE_FEATURES, question_features(static, X[:1], np.array([2.0]))))
    assert x["fact_absent"] == 1.0 and x["coverage_top3"] > 0
    assert x["fact_missing_covered"] == pytest.approx(x["coverage_top3"])
    # 开工 is not a word of this index: half the concept weight is unknown.
    assert x["unknown_share"] == pytest.approx(3.0 / 8.0)
    # How the question is put (it asks for a date) is no evidence the model weighs, only the sources.
    assert not {"asks_fact", "english", "anchors", "carried"} & set(GATE_FEATURES)
    nothing = question_features(static, X[:0], np.zeros(0))
    assert len(nothing) == len(GATE_FEATURES)


# ---- the model files -----------------------------------------------------------------------------
def write(path, features, n=None):
    n = len(features) if n is None else n
    path.write_text(json.dumps({"features": list(features), "mean": [0.0] * n, "scale": [1.0] * n,
                                "coef": [1.0] * n, "intercept": -1.0, "threshold": 0.3}), encoding="utf-8")
    return path


def test_a_model_file_is_read_and_evaluated_with_numpy(tmp_path):
    model = load_model(write(tmp_path / "m.json", ["a", "b"]), ["a", "b"])
    assert model.threshold == 0.3
    assert model.logits(np.array([[1.0, 2.0]])).tolist() == [2.0]
    assert model.probability(np.zeros(2))[0] == pytest.approx(1 / (1 + np.e))
    assert list(model.contributions(np.array([1.0, 2.0]), 1)) == ["b"]


def test_a_model_file_fitted_on_other_features_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="other features"):
        load_model(write(tmp_path / "m.json", ["a", "b"]), ["a", "c"])
    with pytest.raises(ModelFileError, match="2 features"):
        load_model(write(tmp_path / "m.json", ["a", "b"], n=3), ["a", "b"])
    with pytest.raises(ModelFileError, match="missing"):
        load_model(tmp_path / "none.json", ["a"])
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelFileError, match="unreadable"):
        load_model(tmp_path / "bad.json", ["a"])


def test_the_shipped_models_match_the_code():
    ranker, gate = shipped_models()
    assert isinstance(ranker, LinearModel) and ranker.features == CANDIDATE_FEATURES
    assert gate.features == GATE_FEATURES and 0.0 <= gate.threshold < 1.0  # 0: the checks decide
    assert gate.meta["cv"]["by_kind"]["all"]["answerable_refused"] <= 0.1
