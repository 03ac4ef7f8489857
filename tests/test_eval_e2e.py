"""End-to-end evaluation on the seed reply: real model, real index, real files, plus the runner's helpers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from assistant.evaluation.inputs import default_inputs, input_key, write_distractors
from assistant.evaluation.metrics import contains_any
from assistant.evaluation.questions import KINDS, QuestionFileError, load_questions
from assistant.evaluation.report import metrics_table
from assistant.evaluation.runner import run_evaluation

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
NEWS = ROOT.parent / "shared" / "data" / "crud-news" / "news-20k.jsonl.gz"
EXAMPLE = "what measures address land for 惠水?"
EXAMPLE_GOLD = ["户籍、土地由贵阳贵安", "土地市场一体化"]  # as in eval/questions (s616-036)

QUESTIONS = [
    {"id": "zh-industry", "lang": "zh", "question": "惠水和长顺要培育哪些重点产业？", "history": [],
     "expected": {"answerable": True, "sources_contain": ["培育惠水—长顺城镇组团"]}},
    {"id": "en-land", "lang": "en", "question": EXAMPLE, "history": [],
     "expected": {"answerable": True, "sources_contain": EXAMPLE_GOLD}},
    {"id": "zh-assess", "lang": "zh", "question": "黔中城市群的绩效考核怎么完善？", "history": [],
     "expected": {"answerable": True, "sources_contain": ["科学评价考核体系"]}},
    {"id": "en-finance", "lang": "en", "question": "How will banks and credit be integrated across the city cluster?",
     "history": [], "expected": {"answerable": True, "sources_contain": ["信贷管理一体化"]}},
    {"id": "zh-follow", "lang": "zh", "question": "那规划协同方面呢？",
     "history": [{"role": "user", "content": "黔中城市群的组织协调怎么加强？"},
                 {"role": "assistant", "content": "贵阳贵安牵头建立三级协同发展机制。"}],
     "expected": {"answerable": True, "sources_contain": ["永久基本农田保护线"]}},
    {"id": "zh-business", "question": "怎样提升营商环境？", "history": [],
     "expected": {"answerable": True, "sources_contain": ["最多跑一次"]}},
    {"id": "zh-none", "lang": "zh", "question": "深圳地铁十六号线的票价是多少？", "history": [],
     "expected": {"answerable": False, "sources_contain": []}},
    {"id": "en-none", "lang": "en", "question": "What is the weather forecast for Paris tomorrow?", "history": [],
     "expected": {"answerable": False, "sources_contain": []}},
]
RATES = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "citation_precision", "citation_coverage",
         "refused_unanswerable", "answered_answerable", "refusal_accuracy", "cited_answers")


def _write_questions(path: Path, questions: list[dict]) -> Path:
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return path


def _assert_rates(block: dict, keys=RATES) -> None:
    for key in keys:
        assert key in block, key
        value = block[key]
        assert value is None or 0.0 <= value <= 1.0, (key, value)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_settings):
    """Two runs of the same evaluation (with the naive baseline): the second reuses both indexes."""
    work = tmp_path_factory.mktemp("eval")
    questions = _write_questions(work / "mini.jsonl", QUESTIONS)
    runs = []
    for n in (1, 2):
        runs.append(run_evaluation(
            questions_path=questions, corpus=[CORPUS], k=5, baseline="naive",
            out=work / f"results-{n}.jsonl", report_dir=work / f"report-{n}", data_dir=work / "data",
            settings=model_settings,
        ))
    return work, runs


def test_files_written(evaluated) -> None:
    work, _ = evaluated
    lines = (work / "results-1.jsonl").read_text(encoding="utf-8").splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["id"] for a in answers] == [q["id"] for q in QUESTIONS]
    for a in answers:
        assert {"question", "standalone_question", "answer", "refused", "citations", "sources",
                "timings_ms"} <= set(a)
        assert a["sources"], a["id"]
    naive = (work / "results-1.naive.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(naive) == len(QUESTIONS)
    report = work / "report-1"
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "## Headline metrics" in text and "naive" in text
    for chart in ("retrieval.png", "answers.png", "breakdown.png", "latency.png"):
        png = report / chart
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", chart
        assert f"]({chart})" in text


def test_metrics_object(evaluated) -> None:
    _, (metrics, _) = evaluated
    assert metrics["k"] == 5
    assert metrics["questions"]["count"] == len(QUESTIONS)
    assert metrics["questions"]["answerable"] == 6 and metrics["questions"]["follow_up"] == 1
    for system in ("ours", "naive"):
        block = metrics[system]
        _assert_rates(block["overall"])
        for key in ("by_language", "by_turn", "by_set"):
            for group in block[key].values():
                _assert_rates(group)
        assert set(block["by_language"]) == {"zh", "en"}
        assert set(block["by_turn"]) == {"single", "follow_up"}
        assert set(block["by_set"]) == {"mini"}
        assert {"english", "follow_up", "unanswerable", "own_terms"} <= set(block["by_kind"]) <= set(KINDS)
        assert sum(g["n"]["questions"] for g in block["by_fold"].values()) == len(QUESTIONS)
        assert all(name.endswith("/5") for name in block["by_fold"])
    assert metrics["questions"]["folds"] == 5 and metrics["questions"]["only_folds"] is None
    ours = metrics["ours"]
    assert ours["overall"]["n"]["questions"] == len(QUESTIONS)
    assert ours["latency_ms"]["total"]["p50"] > 0
    assert {"rewrite", "retrieve", "answer", "total"} <= set(ours["latency_ms"])
    assert ours["latency_ms"]["total"]["p95"] >= ours["latency_ms"]["total"]["p50"]
    # the naive recipe neither cites nor refuses
    naive = metrics["naive"]["overall"]
    assert naive["citation_precision"] is None and naive["citation_coverage"] is None
    assert naive["refused_unanswerable"] == 0.0 and naive["answered_answerable"] == 1.0
    # the whole object is JSON (what --json prints)
    json.dumps(metrics, ensure_ascii=False)
    assert metrics_table(metrics).row_count >= 10


def test_example_question_hits_at_5(evaluated) -> None:
    work, (metrics, _) = evaluated
    answers = {json.loads(line)["id"]: json.loads(line)
               for line in (work / "results-1.jsonl").read_text(encoding="utf-8").splitlines()}
    example = answers["en-land"]
    assert any(contains_any(s["text"], EXAMPLE_GOLD) for s in example["sources"][:5])
    failed = {f["id"]: f["problems"] for f in metrics["ours"]["failures"]}
    assert "retrieval_miss" not in failed.get("en-land", [])
    assert metrics["ours"]["overall"]["hit@5"] >= 0.5


def test_failures_show_what_was_retrieved(evaluated) -> None:
    _, (metrics, _) = evaluated
    for f in metrics["ours"]["failures"] + metrics["naive"]["failures"]:
        assert f["problems"]
        assert len(f["retrieved"]) <= 3
        for r in f["retrieved"]:
            assert r["doc_title"] and len(r["preview"]) <= 61


def test_second_run_reuses_both_indexes(evaluated) -> None:
    _, (first, second) = evaluated
    assert first["index"]["data_dir"] == second["index"]["data_dir"]
    docs = second["index"]["ingest"]["documents"]
    assert docs["unchanged"] == 1 and docs["added"] == docs["updated"] == 0
    assert second["index"]["ingest"]["chunks"]["embedded"] == 0
    assert second["index"]["naive"]["reused"] is True
    assert first["index"]["naive"]["chunks"] == second["index"]["naive"]["chunks"] > 5
    # same index, same questions: the same retrieval figures
    for key in ("hit@1", "hit@5", "mrr", "ndcg@5"):
        assert first["ours"]["overall"][key] == second["ours"]["overall"][key]
        assert first["naive"]["overall"][key] == second["naive"]["overall"][key]


# ---- the runner's helpers ----------------------------------------------------------------------
def test_default_inputs_and_data_dir_key() -> None:
    inputs = default_inputs(ROOT)
    assert inputs[0] == ROOT / "corpus" and inputs[1].name == "gov-work-reports"
    assert input_key(inputs, 0) == input_key(list(reversed(inputs)), 0)
    assert input_key(inputs, 0) != input_key(inputs, 100)
    with pytest.raises(FileNotFoundError, match="the shipped replies"):
        default_inputs(ROOT / "tests")  # no corpus/ there


@pytest.mark.skipif(not NEWS.is_file(), reason="news distractors not available")
def test_distractors_written_once(tmp_path) -> None:
    path = write_distractors(NEWS, tmp_path, 3)
    assert path.name == "news-first-3.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        ids = [json.loads(line)["id"] for line in f]
    assert ids == ["news-00000", "news-00001", "news-00002"]
    stamp = path.stat().st_mtime_ns
    assert write_distractors(NEWS, tmp_path, 3) == path and path.stat().st_mtime_ns == stamp


def test_question_files(tmp_path) -> None:
    folder = tmp_path / "sets"
    folder.mkdir()
    _write_questions(folder / "a.jsonl", QUESTIONS[:2])
    (folder / "b.jsonl").write_text(
        '{"question": "惠水？", "expected": {"answerable": true, "sources_contain": ["惠水"]}}\n\n', encoding="utf-8")
    questions = load_questions(folder)
    assert [(q.set_name, q.id) for q in questions] == [("a", "zh-industry"), ("a", "en-land"), ("b", "b-1")]
    assert questions[2].history == [] and questions[2].lang is None

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "expected": {"answerable": true}}\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=r"bad.jsonl:1: .*sources_contain"):
        load_questions(bad)
    bad.write_text('{"question": "x", "expected": {"answerable": false}}\nnot json\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=r"bad.jsonl:2: not valid JSON"):
        load_questions(bad)
    with pytest.raises(FileNotFoundError):
        load_questions(tmp_path / "missing.jsonl")
