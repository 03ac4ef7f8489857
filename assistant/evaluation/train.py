"""``python -m assistant.evaluation.train``: fit the learned ranker and gate on the tunable question sets.

    eval index (as `assistant eval` builds it) ─ ask every question through the app ─ observe the
    retriever's candidates and features ─ label them (a gold phrase in the text) ─ cross-validate
    by folds grouped by the answering document ─ choose the gate's threshold on held-out folds ─
    print and save the figures ─ fit on everything ─ write ``retrieval/resources/{ranker,gate}.json``

Only the sets one may tune on are read (never ``eval/holdout/*``). Deterministic: the same index and
questions give the same models (fixed folds, a deterministic solver).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.evaluation.inputs import (
    build_index,
    default_inputs,
    eval_settings,
    news_source,
    repo_root,
    shared_data_dir,
    write_distractors,
)
from assistant.evaluation.metrics import judge_texts, normalize_for_match
from assistant.evaluation.questions import (
    EvalQuestion,
    apply_kinds,
    kind_of,
    load_questions,
    read_kinds_table,
)
from assistant.settings import Settings

__all__ = ["Sample", "collect", "default_sets", "main"]


@dataclass
class Sample:
    """One question's candidates as the retriever saw them, labelled."""

    qid: str
    kind: str
    answerable: bool
    group: str  # the answering document (answerable) or a hash of the id (unanswerable)
    X: np.ndarray  # candidate features, fused order
    static: np.ndarray  # the question's own features
    labels: np.ndarray  # each candidate holds a gold phrase
    source: str = ""  # the question set it comes from (its author and style)


def default_sets(root: Path | None = None) -> list[Path]:
    """The question sets one may tune on: seed-616, work-reports, replies-dev and replies-dev-g (a second
    author's questions on the same replies, a third of them unanswerable: the refusal model's data)."""
    root = root or repo_root()
    questions = root / "eval" / "questions"
    return [questions / "seed-616.jsonl", questions / "work-reports.jsonl",
            shared_data_dir(root) / "replies-dev" / "questions.jsonl", questions / "replies-dev-g.jsonl"]


def collect(assistant, questions: Sequence[EvalQuestion]) -> list[Sample]:
    """Ask each question through the app and keep what the retriever observed."""
    from assistant.errors import QuestionError
    from assistant.text import detect_language

    seen: list[tuple] = []
    assistant.retriever.observer = lambda question, top, X, static: seen.append((top, X, static))
    doc_of_gold = _gold_documents(assistant.index.snapshot)
    samples = []
    try:
        for q in questions:
            seen.clear()
            try:
                assistant.ask(q.question, q.history)
            except QuestionError:
                pass
            if not seen:  # refused before ranking (unknown number, filters): not the gate's call
                continue
            top, X, static = seen[-1]
            labels = np.array(judge_texts([sc.chunk.text for sc in top], q.sources_contain,
                                          keys=[sc.chunk.chunk_id for sc in top]) if q.answerable
                              else [False] * len(top), dtype=bool)
            gold_doc = next((sc.chunk.doc_id for sc, hit in zip(top, labels) if hit), None) or (
                doc_of_gold(q.sources_contain) if q.answerable else None)
            group = gold_doc or "q:" + hashlib.sha1(q.id.encode()).hexdigest()[:6]
            samples.append(Sample(q.id, kind_of(q, q.lang or detect_language(q.question)), q.answerable,
                                  group, X, static, labels, q.set_name))
    finally:
        assistant.retriever.observer = None
    return samples


def _gold_documents(snap):
    """A lookup: the document of the first section that holds one of the phrases (None if none)."""
    texts = [(c.doc_id, normalize_for_match(c.text)) for c in snap.chunks.values()]

    def find(phrases: Sequence[str]) -> str | None:
        wanted = [normalize_for_match(p) for p in phrases if p]
        return next((doc for doc, text in texts if any(p in text for p in wanted)), None)

    return find


def main(argv: Sequence[str] | None = None) -> int:
    from rich.console import Console

    from assistant.evaluation.fitting import cross_validate, fit_final, write_models
    from assistant.retrieval.model import MODELS_DIR, ensure_models

    parser = argparse.ArgumentParser(prog="python -m assistant.evaluation.train", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, action="append", help="question sets (default: the tunable ones)")
    parser.add_argument("--corpus", type=Path, action="append",
                        help="inputs, exactly as given to `assistant eval` for this --data-dir (another path "
                             "to the same files re-ingests them); default: corpus/, the work reports, replies-dev")
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, required=True, help="the evaluation index's data directory")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="where the model files go")
    parser.add_argument("--report", type=Path, help="also write the cross-validated figures here (JSON)")
    args = parser.parse_args(argv)
    if any("holdout" in str(p) for p in args.questions or ()):
        parser.error("the blind sets (eval/holdout) are never trained on")
    console = Console(stderr=True)
    root = repo_root()
    inputs = args.corpus or [*default_inputs(root), shared_data_dir(root) / "replies-dev" / "docs"]
    directory = args.data_dir.resolve()
    if args.distractors:
        inputs = [*inputs, write_distractors(news_source(), directory, args.distractors)]
    ensure_models(args.models_dir, console.print)  # the app needs models to start; any will do to observe
    assistant, _ = build_index(eval_settings(Settings(), directory, 5), inputs, console)
    questions = []
    sets = args.questions or default_sets(root)
    for path in sets:
        questions += load_questions(path)
    apply_kinds(questions, read_kinds_table(root / "eval" / "kinds.tsv"))
    console.print(f"提问 / asking {len(questions)} questions")
    samples = collect(assistant, questions)
    figures = cross_validate(samples, args.folds, console.print, rerank=Settings().rerank)
    ranker, gate = fit_final(samples, figures, meta={"sets": [str(p) for p in sets], "folds": args.folds,
                                                     "distractors": args.distractors})
    write_models(args.models_dir, ranker, gate)
    if args.report:
        args.report.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"模型 / models → {args.models_dir} (threshold {gate.threshold:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
