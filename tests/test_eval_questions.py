"""Question sets by kind and by fold (no model): what the evaluation reports each figure by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation.questions import (
    KINDS,
    QuestionFileError,
    apply_kinds,
    kind_of,
    load_questions,
    read_kinds_table,
)
from assistant.evaluation.runner import run_evaluation

ROOT = Path(__file__).resolve().parent.parent
REPLIES_DEV = ROOT.parent / "shared" / "data" / "replies-dev" / "questions.jsonl"


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def _q(qid: str, **extra) -> dict:
    return {"id": qid, "question": "问题？", "history": [],
            "expected": {"answerable": True, "sources_contain": ["某个短语"]}, **extra}


def test_kind_is_given_or_read_from_what_the_question_is(tmp_path):
    questions = load_questions(_write(tmp_path / "set.jsonl", [
        _q("a", kind="everyday"),
        _q("b", topic="header:proposer"),
        _q("c", lang="en"),
        _q("d", history=[{"role": "user", "content": "前一个问题"}, {"role": "assistant", "content": "回答"}]),
        {**_q("e"), "expected": {"answerable": False, "sources_contain": []}},
        _q("f"),
    ]))
    assert [kind_of(q, "zh") for q in questions] == [
        "everyday", "header", "english", "follow_up", "unanswerable", "own_terms"]
    assert kind_of(questions[5], "en") == "english"  # the detected language when the file gives none


def test_a_kind_outside_the_list_is_refused(tmp_path):
    with pytest.raises(QuestionFileError, match="bad.jsonl:1: .*kind"):
        load_questions(_write(tmp_path / "bad.jsonl", [_q("a", kind="chitchat")]))


def test_kinds_table_gives_kinds_by_id_range(tmp_path):
    table = tmp_path / "kinds.tsv"
    table.write_text("# comment\nrd-001\trd-050\teveryday\nrd-051\trd-070\town_terms\n", encoding="utf-8")
    questions = load_questions(_write(tmp_path / "rd.jsonl", [
        _q("rd-001"), _q("rd-050"), _q("rd-051"), _q("rd-071"), _q("rd-002", kind="header"), _q("rd-1")]))
    apply_kinds(questions, read_kinds_table(table))
    assert [q.kind for q in questions] == ["everyday", "everyday", "own_terms", "", "header", ""]
    table.write_text("rd-001\trd-050\tsmalltalk\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match="kinds.tsv:1"):
        read_kinds_table(table)


@pytest.mark.skipif(not REPLIES_DEV.is_file(), reason="../shared/data/replies-dev is not here")
def test_the_shipped_kinds_table_covers_replies_dev_as_its_readme_counts():
    questions = load_questions(REPLIES_DEV)
    apply_kinds(questions, read_kinds_table(ROOT / "eval" / "kinds.tsv"))
    counts = {kind: sum(q.kind == kind for q in questions) for kind in KINDS}
    assert counts == {"everyday": 50, "own_terms": 20, "english": 15, "follow_up": 12, "unanswerable": 13,
                      "header": 10}
    assert all(q.answerable is (q.kind != "unanswerable") for q in questions)
    assert all(bool(q.history) is (q.kind == "follow_up") for q in questions)


def test_folds_are_stable_and_balanced():
    questions = load_questions(ROOT / "eval" / "questions")
    folds = [q.fold(5) for q in questions]
    assert folds == [q.fold(5) for q in load_questions(ROOT / "eval" / "questions")]  # same every run
    sizes = [folds.count(f) for f in range(5)]
    assert min(sizes) >= len(questions) / 5 * 0.6, sizes
    # A question keeps its fold whatever else the set holds.
    alone = load_questions(ROOT / "eval" / "questions" / "seed-616.jsonl")
    assert {q.id: q.fold(5) for q in alone} == {q.id: q.fold(5) for q in questions if q.id.startswith("s616")}


def test_bad_fold_arguments_say_so(tmp_path):
    questions = _write(tmp_path / "set.jsonl", [_q("a")])
    with pytest.raises(ValueError, match="folds are numbered 0 to 4"):
        run_evaluation(questions, folds=5, only_folds=[5])
    with pytest.raises(ValueError, match="at least 1"):
        run_evaluation(questions, folds=0)


def test_only_folds_keeps_those_folds(tmp_path):
    path = _write(tmp_path / "set.jsonl", [_q("a")])
    (question,) = load_questions(path)
    other = (question.fold(5) + 1) % 5
    with pytest.raises(ValueError, match=f"no question falls in folds \\[{other}\\] of 5"):
        run_evaluation(path, folds=5, only_folds=[other])
