"""Fusion and boosts, one rule at a time, over a hand-built snapshot: no model, no vector store.

The snapshot holds a few chunks and a real BM25 index over their tokens (the real lexicon); the
candidate lists are written by hand, so each test sees exactly one rule at work.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant.index.keyword_index import KeywordIndex
from assistant.index.search_index import Snapshot
from assistant.index.sentence_vectors import SentenceVectors
from assistant.language.lexicon import Lexicon
from assistant.retrieval.analysis import analyse
from assistant.retrieval.fusion import (
    CARRIED_WEIGHT,
    GENERIC_WEIGHT,
    coverage,
    fuse,
    term_shares,
    weigh_concepts,
)
from assistant.schema import Chunk
from assistant.settings import Settings
from assistant.text import split_sentences

BOOSTS = ("coverage_weight", "place_boost", "card_boost", "year_boost", "structure_boost", "reply_boost",
          "focus_boost", "sentence_weight", "card_penalty")
NONE = Settings().with_overrides(**{name: 0.0 for name in BOOSTS})
TOP = 1.0 / (NONE.rrf_k + 1)  # a first place on one list: the unit of every boost


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.default()


def only(name: str, value: float = 1.0) -> Settings:
    """Settings with every boost off but ``name``."""
    return NONE.with_overrides(**{name: value})


def chunk(cid: str, text: str, doc: str = "reply", title: str = "关于第616号代表建议的答复", **fields) -> Chunk:
    return Chunk(chunk_id=cid, doc_id=doc, doc_title=title, text=text, index_text=f"{title}\n{text}", **fields)


def snapshot(lex: Lexicon, *chunks: Chunk, structured: tuple[str, ...] = ()) -> Snapshot:
    keyword = KeywordIndex()
    keyword.load((c.chunk_id, lex.tokenize(c.index_text)) for c in chunks)
    return Snapshot(generation=1, chunks={c.chunk_id: c for c in chunks}, keyword=keyword, documents={},
                    structured_docs=frozenset(structured))


def first_everywhere(snap: Snapshot) -> list:
    """Every chunk first on a list of its own: equal fused scores, so boosts alone tell them apart."""
    return [("dense", 1.0, [(cid, 0.9)]) for cid in snap.chunks]


def boosts(lex, snap, question, settings, focus=None) -> dict[str, float]:
    """Each chunk's score above its reciprocal-rank base, in units of a first place."""
    analysis = analyse(question, lex)
    concepts = weigh_concepts(snap, analysis, settings.unknown_term_weight)
    fused = fuse(snap, first_everywhere(snap), analysis, concepts, settings, focus)
    return {sc.chunk.chunk_id: round((sc.score - TOP) / TOP, 6) for sc in fused}


# ---- reciprocal-rank fusion ----------------------------------------------------------------------
def test_each_list_adds_its_weight_over_rank(lex):
    snap = snapshot(lex, chunk("a", "加强组织协调。", order=0), chunk("b", "强化规划协同。", order=1),
                    chunk("c", "健全协同发展机制。", order=2))
    lists = [("dense", 1.0, [("a", 0.9), ("b", 0.8)]), ("lexical", 1.5, [("b", 7.0), ("c", 5.0)])]
    fused = fuse(snap, lists, analyse("协同", lex), [], NONE)
    k = NONE.rrf_k
    assert [sc.chunk.chunk_id for sc in fused] == ["b", "c", "a"]
    b, c, a = fused
    assert b.score == pytest.approx(1.0 / (k + 2) + 1.5 / (k + 1))
    assert c.score == pytest.approx(1.5 / (k + 2)) and a.score == pytest.approx(1.0 / (k + 1))
    assert (b.dense_rank, b.dense_score, b.lexical_rank, b.lexical_score) == (2, 0.8, 1, 7.0)
    assert (a.lexical_rank, c.dense_rank) == (None, None)


def test_a_later_list_of_the_same_kind_adds_score_but_keeps_the_first_rank(lex):
    snap = snapshot(lex, chunk("a", "加强组织协调。"), chunk("b", "强化规划协同。"))
    lists = [("dense", 1.0, [("b", 0.9), ("a", 0.8)]), ("dense", 1.0, [("a", 0.8)])]  # a focus list
    a = next(sc for sc in fuse(snap, lists, analyse("协调", lex), [], NONE) if sc.chunk.chunk_id == "a")
    assert a.dense_rank == 2 and a.score == pytest.approx(1.0 / (NONE.rrf_k + 2) + 1.0 / (NONE.rrf_k + 1))


def test_ties_are_ordered_by_document_and_position_not_by_list(lex):
    snap = snapshot(lex, chunk("x", "加强组织协调。", doc="b-doc", order=0),
                    chunk("y", "强化规划协同。", doc="a-doc", order=3), chunk("z", "扩大社会参与。", doc="a-doc", order=1))
    lists = [("dense", 1.0, [("x", 0.9)]), ("lexical", 1.0, [("y", 3.0)]), ("lexical", 1.0, [("z", 2.0)])]
    assert [sc.chunk.chunk_id for sc in fuse(snap, lists, analyse("协同", lex), [], NONE)] == ["z", "y", "x"]


def test_the_same_text_twice_is_shown_once(lex):
    snap = snapshot(lex, chunk("one", "加强组织协调。", doc="copy-1"), chunk("two", "加强组织协调。", doc="copy-2"),
                    chunk("other", "强化规划协同。"))
    lists = [("dense", 1.0, [("two", 0.9), ("one", 0.8), ("other", 0.7)])]
    assert [sc.chunk.chunk_id for sc in fuse(snap, lists, analyse("协调", lex), [], NONE)] == ["two", "other"]


# ---- concepts and coverage -----------------------------------------------------------------------
def test_coverage_is_the_weighted_share_of_the_questions_concepts(lex):
    snap = snapshot(lex, chunk("both", "保障土地要素供给。"), chunk("land", "盘活存量土地。"),
                    chunk("none", "加强组织协调。"))
    concepts = weigh_concepts(snap, analyse("土地要素", lex), NONE.unknown_term_weight)
    weights = dict(concepts)
    shares = coverage(snap, ["both", "land", "none"], concepts)
    assert list(shares) == pytest.approx([1.0, weights[("土地",)] / sum(weights.values()), 0.0])
    assert boosts(lex, snap, "土地要素", only("coverage_weight", 3.0)) == pytest.approx(
        {"both": 3.0, "land": 3.0 * shares[1], "none": 0.0})


def test_framing_carried_and_unknown_english_concepts_weigh_less(lex):
    snap = snapshot(lex, chunk("a", "税收分享措施。"), chunk("b", "加强组织协调。"), chunk("c", "扩大社会参与。"))
    plain = dataclasses.replace(analyse("税收有哪些措施 zorbl", lex), framing=frozenset(), carried=frozenset())
    idf = snap.keyword.idf_of(["税收", "措施", "zorbl"])
    weights = dict(weigh_concepts(snap, plain, 0.3))
    assert weights[("税收",)] == pytest.approx(idf["税收"])
    assert weights[("zorbl",)] == pytest.approx(idf["zorbl"] * 0.3)  # no document uses it
    real = analyse("税收有哪些措施 zorbl", lex)
    assert weigh_concepts(snap, real, 0.3) != weigh_concepts(snap, plain, 0.3)
    assert dict(weigh_concepts(snap, real, 0.3))[("措施",)] == pytest.approx(idf["措施"] * GENERIC_WEIGHT)
    carried = dataclasses.replace(plain, carried=frozenset({("税收",)}))
    assert dict(weigh_concepts(snap, carried, 0.3))[("税收",)] == pytest.approx(idf["税收"] * CARRIED_WEIGHT)


def test_a_part_of_a_longer_term_earns_its_share(lex):
    snap = snapshot(lex, chunk("a", "设立黔中城市群规划委员会。"), chunk("b", "编制规划。"), chunk("c", "加强规划协同。"))
    shares = term_shares(snap, [(("规划委员会", "规划"), 5.0), (("土地", "用地"), 3.0)])
    assert 0 < shares["规划"] < 1 and "规划委员会" not in shares and "土地" not in shares


# ---- boosts --------------------------------------------------------------------------------------
def test_a_named_place_boosts_sections_that_name_it_and_half_for_its_cluster(lex):
    # 惠水's cluster is its prefecture, 黔南 (from the divisions table).
    snap = snapshot(lex, chunk("here", "支持惠水发展。"), chunk("cluster", "支持黔南州发展。"),
                    chunk("elsewhere", "支持修文发展。"))
    assert boosts(lex, snap, "惠水有哪些发展措施？", only("place_boost")) == {
        "here": 1.0, "cluster": 0.5, "elsewhere": 0.0}


def test_a_named_year_boosts_sections_of_that_years_documents(lex):
    snap = snapshot(lex, chunk("title", "经济增长5%左右。", title="2024年政府工作报告"),
                    chunk("text", "2024年经济增长5%。", title="政府工作报告"),
                    chunk("other", "经济增长5.5%左右。", title="2025年政府工作报告"))
    assert boosts(lex, snap, "2024年经济增长目标是多少？", only("year_boost")) == {
        "title": 1.0, "text": 1.0, "other": 0.0}


def test_questions_about_the_reply_boost_its_card_or_its_closing(lex):
    snap = snapshot(lex, chunk("card", "代表提案者：凌毅", kind="card"),
                    chunk("closing", "衷心感谢您的关心。", kind="closing"), chunk("body", "加强组织协调。"))
    assert boosts(lex, snap, "这条建议是谁提出来的？", only("card_boost")) == {"card": 1.0, "closing": 0.0, "body": 0.0}
    assert boosts(lex, snap, "答复的结束语怎么写的？", only("card_boost")) == {"card": 0.0, "closing": 1.0, "body": 0.0}
    assert boosts(lex, snap, "组织协调怎么做？", only("card_boost")) == {"card": 0.0, "closing": 0.0, "body": 0.0}


def test_the_card_and_the_closing_step_back_on_questions_about_what_the_reply_discusses(lex):
    # The card repeats the suggestion's title, so it shares the question's words without answering it.
    snap = snapshot(lex, chunk("card", "建议提案标题：关于加强组织协调的建议", kind="card"),
                    chunk("closing", "衷心感谢您的关心。", kind="closing"), chunk("body", "加强组织协调。"))
    assert boosts(lex, snap, "组织协调怎么做？", only("card_penalty")) == {"card": -1.0, "closing": -1.0, "body": 0.0}
    assert boosts(lex, snap, "这条建议是谁提出来的？", only("card_penalty")) == {"card": 0.0, "closing": 0.0, "body": 0.0}


def test_sections_of_government_documents_and_of_replies_are_favoured(lex):
    snap = snapshot(lex, chunk("news", "新闻正文。", doc="news", kind="intro"),
                    chunk("report", "报告正文。", doc="report", kind="intro"),
                    chunk("reply", "答复正文。", doc="reply", suggestion_no="第616号"), structured=("report",))
    assert boosts(lex, snap, "正文", only("structure_boost")) == {"news": 0.0, "report": 1.0, "reply": 1.0}
    assert boosts(lex, snap, "正文", only("reply_boost")) == {"news": 0.0, "report": 0.0, "reply": 1.0}


def test_a_follow_up_favours_the_documents_the_conversation_is_about(lex):
    snap = snapshot(lex, chunk("a", "加强组织协调。", doc="first"), chunk("b", "强化规划协同。", doc="second"),
                    chunk("c", "扩大社会参与。", doc="third"))
    focus = {"first": 1.0, "second": 0.5}
    assert boosts(lex, snap, "协调", only("focus_boost"), focus) == {"a": 1.0, "b": 0.5, "c": 0.0}


# ---- sentences -----------------------------------------------------------------------------------
def with_sentences(snap: Snapshot, cosines: dict[str, list[float]]) -> Snapshot:
    """``snap`` with sentence vectors whose cosines with the unit question vector (1, 0) are given."""
    rows, vectors = {}, []
    for cid, values in cosines.items():
        assert len(values) == len(split_sentences(snap.chunks[cid].text))
        rows[cid] = len(vectors)
        vectors += [(c, float(np.sqrt(1 - c * c))) for c in values]
    return dataclasses.replace(snap, sentences=SentenceVectors(np.asarray(vectors, np.float16), rows))


def test_the_section_whose_best_sentence_is_closest_in_meaning_overtakes(lex):
    snap = with_sentences(snapshot(lex, chunk("words", "老师课后服务很辛苦。课后服务时间较长。"),
                                   chunk("meaning", "统筹安排教师弹性上下班。减轻教师非教学负担。")),
                          {"words": [0.80, 0.82], "meaning": [0.70, 0.95]})
    lists = [("dense", 1.0, [("words", 0.91), ("meaning", 0.90)])]
    question, weight = analyse("老师太辛苦了有没有减负办法？", lex), 42.0
    settings = only("sentence_weight", weight)
    fused = fuse(snap, lists, question, [], settings, vector=np.array([1.0, 0.0]))
    assert [sc.chunk.chunk_id for sc in fused] == ["meaning", "words"]
    gap = float(np.float16(0.95)) - float(np.float16(0.82))  # vectors are stored as float16
    assert fused[1].score == pytest.approx(TOP - weight * TOP * gap, abs=1e-3 * TOP)
    assert fused[0].score == pytest.approx(1.0 / (NONE.rrf_k + 2), abs=1e-3 * TOP)
    # Without the question's vector, at weight 0, or for an English question: the fused order.
    assert [sc.chunk.chunk_id for sc in fuse(snap, lists, question, [], settings)] == ["words", "meaning"]
    assert [sc.chunk.chunk_id for sc in fuse(snap, lists, question, [], NONE, vector=np.array([1.0, 0.0]))] == [
        "words", "meaning"]
    english = analyse("Is there any way to lighten the load on teachers?", lex)
    assert [sc.chunk.chunk_id for sc in fuse(snap, lists, english, [], settings, vector=np.array([1.0, 0.0]))] == [
        "words", "meaning"]


def test_a_section_without_sentence_vectors_counts_its_chunk_cosine(lex):
    snap = with_sentences(snapshot(lex, chunk("reply", "减轻教师非教学负担。"), chunk("news", "教师减负见闻。", doc="news"),
                                   chunk("unseen", "教师减负。", doc="other")),
                          {"reply": [0.93]})
    lists = [("dense", 1.0, [("news", 0.95), ("reply", 0.90)]), ("lexical", 1.0, [("unseen", 5.0)])]
    fused = fuse(snap, lists, analyse("老师减负", lex), [], only("sentence_weight", 42.0), vector=np.array([1.0, 0.0]))
    # news: its chunk's 0.95 is the best; reply: 0.93 (its sentence); unseen: the dense list's last, 0.90.
    assert [sc.chunk.chunk_id for sc in fused] == ["news", "reply", "unseen"]
    assert fused[2].score == pytest.approx(TOP - 42.0 * TOP * 0.05)


def test_a_replys_set_phrases_are_never_its_best_sentence(lex):
    # The acknowledgment quotes the suggestion's title: close to any question on the topic, it answers none.
    snap = with_sentences(snapshot(lex, chunk("opening", "您提出的《关于教师减负的建议》收悉。现答复如下："),
                                   chunk("answer", "统筹安排教师弹性上下班。减轻教师非教学负担。")),
                          {"opening": [0.96, 0.75], "answer": [0.70, 0.93]})
    lists = [("dense", 1.0, [("opening", 0.92), ("answer", 0.90)])]
    fused = fuse(snap, lists, analyse("老师减负有什么办法？", lex), [], only("sentence_weight", 42.0),
                 vector=np.array([1.0, 0.0]))
    assert [sc.chunk.chunk_id for sc in fused] == ["answer", "opening"]
