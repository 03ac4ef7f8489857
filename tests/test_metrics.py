"""The evaluation metrics against cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from assistant.evaluation.metrics import (
    Judged,
    breakdown,
    contains_any,
    count_relevant,
    dcg_at,
    hit_at,
    judge_texts,
    latency,
    ndcg_at,
    normalize_for_match,
    percentile,
    problems,
    reciprocal_rank,
    summarize,
)


def test_normalisation_is_nfkc_without_white_space() -> None:
    assert normalize_for_match("（一） 加快\u3000与黔南\n协作") == "(一)加快与黔南协作"
    assert normalize_for_match("ＡＢＣ　１２３") == "ABC123"
    assert contains_any("(二)推进要素市场一体化建设", ["（二） 推进要素"])
    assert not contains_any("推进要素市场", ["", "土地市场"])
    assert not contains_any("anything", [])


def test_judge_texts_marks_relevant_sources_in_rank_order() -> None:
    texts = ["新闻一则", "二是加快推动城市群内土地市场一体化建设", "三是推动 城市群内数据资源共享"]
    assert judge_texts(texts, ["土地市场一体化", "数据资源共享"]) == [False, True, True]


def test_repeated_source_earns_credit_once() -> None:
    same = "二是加快推动城市群内土地市场一体化建设"
    assert judge_texts([same, same + " ", "无关"], ["土地市场"]) == [True, False, False]
    # with chunk ids the identity is the id, not the text
    assert judge_texts([same, same], ["土地市场"], keys=["a", "b"]) == [True, True]
    assert judge_texts([same, "x", same], ["土地市场"], keys=["a", "x", "a"]) == [True, False, False]


@pytest.mark.parametrize(
    ("relevant", "hits", "rr"),
    [
        ([True, False, False, False, False], (1.0, 1.0, 1.0), 1.0),
        ([False, True, False, False, False], (0.0, 1.0, 1.0), 0.5),
        ([False, False, True, False, False], (0.0, 1.0, 1.0), 1 / 3),
        ([False, False, False, True, False], (0.0, 0.0, 1.0), 0.25),
        ([False, False, False, False, True], (0.0, 0.0, 1.0), 0.2),
        ([False] * 5, (0.0, 0.0, 0.0), 0.0),
        ([False, True, True, False, False], (0.0, 1.0, 1.0), 0.5),  # first relevant counts
        ([], (0.0, 0.0, 0.0), 0.0),  # nothing retrieved
    ],
)
def test_hits_and_reciprocal_rank(relevant, hits, rr) -> None:
    assert tuple(hit_at(relevant, k) for k in (1, 3, 5)) == hits
    assert reciprocal_rank(relevant) == pytest.approx(rr)


def test_reciprocal_rank_cut_off() -> None:
    assert reciprocal_rank([False, False, False, True], k=3) == 0.0
    assert reciprocal_rank([False, False, False, True]) == 0.25


def test_ndcg_single_relevant() -> None:
    assert ndcg_at([True, False, False], 5) == 1.0
    # one relevant chunk at rank 2: (1/log2 3) / 1
    assert ndcg_at([False, True, False], 5) == pytest.approx(1 / math.log2(3))
    assert ndcg_at([False] * 5, 5) == 0.0
    assert ndcg_at([], 5) == 0.0
    assert ndcg_at([False, False, False, False, False, True], 5) == 0.0  # beyond the cut-off


def test_ndcg_several_relevant_sources() -> None:
    # relevant at ranks 1 and 3; two relevant chunks exist in the index
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert dcg_at([True, False, True, False, False], 5) == pytest.approx(dcg)
    assert ndcg_at([True, False, True, False, False], 5, n_relevant=2) == pytest.approx(dcg / idcg)
    # three relevant chunks exist, only two retrieved: the ideal has three
    idcg3 = idcg + 1 / math.log2(4)
    assert ndcg_at([True, False, True, False, False], 5, n_relevant=3) == pytest.approx(dcg / idcg3)
    # unknown count: the retrieved relevant ones stand in
    assert ndcg_at([True, False, True, False, False], 5) == pytest.approx(dcg / idcg)
    # more relevant chunks in the index than the cut-off: the ideal is k relevant ones
    assert ndcg_at([True] * 5, 5, n_relevant=9) == pytest.approx(1.0)
    # a stale count smaller than what was retrieved never pushes nDCG above 1
    assert ndcg_at([True, True, True], 5, n_relevant=1) == pytest.approx(1.0)


def test_ndcg_ignores_a_repeated_source() -> None:
    same = "四是完善考核机制"
    rel = judge_texts([same, same, "无关"], ["完善考核"])
    assert ndcg_at(rel, 5, n_relevant=1) == 1.0
    assert ndcg_at(judge_texts(["无关", same, same], ["完善考核"]), 5, n_relevant=1) == pytest.approx(
        1 / math.log2(3))


def test_count_relevant_over_normalised_index() -> None:
    chunks = [normalize_for_match(t) for t in ("一是 加强组织协调", "二是强化规划协同", "加强组织协调，争取")]
    assert count_relevant(chunks, ["加强组织 协调"]) == 2
    assert count_relevant(chunks, ["没有"]) == 0
    assert count_relevant(chunks, []) == 0


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def _q(qid, answerable=True, refused=False, retrieved=(), cited=(), n_relevant=None, **groups):
    return Judged(qid, answerable, refused, list(retrieved), None if cited is None else list(cited),
                  n_relevant, groups=groups)


def test_summary_hand_computed() -> None:
    judged = [
        # answerable, gold first, answered citing one gold and one other chunk
        _q("a", retrieved=[True, False, False, False, False], cited=[True, False], n_relevant=1, lang="zh"),
        # answerable, gold third, answered citing only a wrong chunk
        _q("b", retrieved=[False, False, True, False, False], cited=[False], n_relevant=1, lang="en"),
        # answerable, wrongly refused (gold at rank 2): no citations
        _q("c", refused=True, retrieved=[False, True, False, False, False], cited=[], n_relevant=1, lang="zh"),
        # answerable, nothing relevant retrieved, answered with zero citations
        _q("d", retrieved=[False] * 5, cited=[], n_relevant=1, lang="zh"),
        # unanswerable, refused (right)
        _q("e", answerable=False, refused=True, retrieved=[False] * 5, cited=[], lang="zh"),
        # unanswerable, answered (wrong)
        _q("f", answerable=False, retrieved=[False] * 5, cited=[False], lang="en"),
    ]
    m = summarize(judged)
    assert m["hit@1"] == pytest.approx(1 / 4)
    assert m["hit@3"] == pytest.approx(3 / 4)
    assert m["hit@5"] == pytest.approx(3 / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(3) + 0) / 4)
    # answered answerable questions: a (2 cited, 1 gold), b (1 cited, 0 gold), d (0 cited) → 1/3
    assert m["citation_precision"] == pytest.approx(1 / 3)
    # answerable questions whose citations include gold: only a
    assert m["citation_coverage"] == pytest.approx(1 / 4)
    assert m["refused_unanswerable"] == pytest.approx(1 / 2)
    assert m["answered_answerable"] == pytest.approx(3 / 4)
    # right decisions: a, b, d (answered answerable), e (refused unanswerable) → 4/6
    assert m["refusal_accuracy"] == pytest.approx(4 / 6)
    # answers given: a, b, d, f; with ≥1 citation: a, b, f
    assert m["cited_answers"] == pytest.approx(3 / 4)
    assert m["n"] == {"questions": 6, "answerable": 4, "unanswerable": 2, "answered": 4,
                      "citations": 3, "errors": 0}

    by_lang = breakdown(judged, "lang")
    assert list(by_lang) == ["en", "zh"]
    assert by_lang["en"]["hit@5"] == 1.0 and by_lang["en"]["refused_unanswerable"] == 0.0
    assert by_lang["zh"]["hit@5"] == pytest.approx(2 / 3)


def test_precision_with_zero_citations_is_not_a_number() -> None:
    m = summarize([_q("a", retrieved=[True], cited=[]), _q("b", retrieved=[False], cited=[])])
    assert m["citation_precision"] is None
    assert m["citation_coverage"] == 0.0
    assert m["cited_answers"] == 0.0


def test_all_refused_and_no_answerable() -> None:
    m = summarize([_q("u", answerable=False, refused=True, cited=[])])
    assert m["hit@5"] is None and m["mrr"] is None and m["citation_coverage"] is None
    assert m["citation_precision"] is None
    assert m["refused_unanswerable"] == 1.0 and m["answered_answerable"] is None
    assert m["cited_answers"] is None  # no answer was given


def test_system_without_citations() -> None:
    # the naive baseline retrieves but neither cites nor refuses
    m = summarize([_q("a", retrieved=[False, True], cited=None), _q("u", answerable=False, cited=None)])
    assert m["hit@3"] == 1.0
    assert m["citation_precision"] is None and m["citation_coverage"] is None and m["cited_answers"] is None
    assert m["refused_unanswerable"] == 0.0 and m["answered_answerable"] == 1.0


def test_latency_per_stage() -> None:
    judged = [_q(str(i), retrieved=[True]) for i in range(4)]
    for i, j in enumerate(judged):
        j.timings_ms = {"total": 10.0 * (i + 1), "retrieve": float(i + 1)}
    lat = latency(judged)
    assert list(lat) == ["retrieve", "total"]  # flow order
    assert lat["total"] == {"p50": 25.0, "p95": 38.5, "n": 4}
    assert lat["retrieve"]["p50"] == 2.5


def test_problems() -> None:
    assert problems(_q("ok", retrieved=[True], cited=[True], n_relevant=1), 5) == []
    assert problems(_q("m", retrieved=[False] * 5, cited=[False], n_relevant=1), 5) == ["retrieval_miss"]
    assert problems(_q("r", refused=True, retrieved=[True], cited=[]), 5) == ["refused_answerable"]
    assert problems(_q("c", retrieved=[True], cited=[False]), 5) == ["citation_miss"]
    assert problems(_q("g", retrieved=[False], cited=[], n_relevant=0), 5) == ["gold_not_in_index",
                                                                                "retrieval_miss"]
    assert problems(_q("u", answerable=False, cited=[False]), 5) == ["answered_unanswerable"]
    assert problems(_q("u2", answerable=False, refused=True, cited=[]), 5) == []
    # the baseline cites nothing, so it never has a citation miss
    assert problems(_q("n", retrieved=[True], cited=None), 5) == []
