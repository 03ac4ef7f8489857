"""``assistant eval``: index a corpus in its own data directory, ask every question, score the answers.

    inputs (corpus/ + work reports [+ first N news articles]) ─ ingest (incremental) ─┐
    questions.jsonl ─ Assistant.ask (the app's own object) ─ Answer JSON per line ──────┼─ metrics ─ report
                    └ naive recipe (optional, same documents and questions) ─────────────┘

The evaluation never touches the app's index: it gets a data directory of its own, by default
``<data_dir>/eval/<hash of the inputs and N>``, so running the same evaluation again reuses the
index it built (ingest is incremental) while a different corpus gets a fresh one. The prepared
model and the embedding cache are shared with the main data directory, so a chunk embedded once
is never embedded again. The evaluation always uses the embedded Chroma store, even when
``ASSISTANT_CHROMA_URL`` points at a server: an evaluation must not write into a served index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation.inputs import (
    build_index,
    default_inputs,
    eval_settings,
    input_key,
    news_source,
    repo_root,
    write_distractors,
)
from assistant.evaluation.metrics import (
    Judged,
    breakdown,
    count_relevant,
    judge_texts,
    latency,
    normalize_for_match,
    problems,
    summarize,
)
from assistant.evaluation.questions import (
    EvalQuestion,
    apply_kinds,
    kind_of,
    load_questions,
    read_kinds_table,
)
from assistant.settings import Settings

#: Breakdown keys: how questions are grouped in the report.
GROUPS = ("kind", "language", "turn", "set", "fold")
_FAILURE_PREVIEW = 60
_FAILURE_SOURCES = 3


# ---- the run -----------------------------------------------------------------------------------
def run_evaluation(
    questions_path: Path,
    corpus: Sequence[Path] | None = None,
    k: int = 5,
    distractors: int = 0,
    baseline: str | None = None,
    out: Path | None = None,
    report_dir: Path | None = None,
    data_dir: Path | None = None,
    console=None,
    settings: Settings | None = None,
    folds: int = 5,
    only_folds: Sequence[int] | None = None,
    kinds: Path | None = None,
) -> dict:
    """Index, ask, score (and report); returns the metrics object.

    ``corpus`` defaults to ``corpus/`` and the work reports; ``distractors`` adds the first N news
    articles; ``baseline="naive"`` also runs the common LangChain recipe on the same documents;
    ``out`` receives one Answer JSON per line (the baseline's answers go next to it, as
    ``<stem>.naive.jsonl``); ``report_dir`` receives ``report.md`` and the charts; ``data_dir``
    overrides the evaluation data directory; ``settings`` are the app's settings (read from the
    environment when omitted). Questions fall into ``folds`` folds by a hash of their id; ``only_folds``
    keeps those folds (tune on some, report on the others); every figure is also broken down by kind
    (``kinds``: a table for sets that cannot name their kinds, default ``eval/kinds.tsv``) and by fold.
    """
    from rich.console import Console

    console = console or Console(stderr=True, quiet=True)
    _check_arguments(baseline, k, distractors, folds, only_folds)
    questions = _select(load_questions(Path(questions_path)), folds, only_folds, kinds)
    base = settings or Settings()
    inputs, directory = _inputs_and_directory(base, corpus, distractors, data_dir)
    cfg = eval_settings(base, directory, k)
    started = time.perf_counter()

    assistant, index_info = build_index(cfg, inputs, console)
    console.print(f"[bold]提问 / asking[/bold] {len(questions)} questions (k={k})")
    ours_started = time.perf_counter()
    ours = _run_ours(assistant, questions, out, console, folds)
    ours_seconds = time.perf_counter() - ours_started

    naive_block = None
    naive_info = None
    if baseline == "naive":
        naive_info, naive_block = _run_naive(assistant, cfg, inputs, questions, k, out, console, folds)

    metrics = {"k": k, "questions": _questions_block(Path(questions_path), questions, folds, only_folds),
               "ours": _system_block(ours, k),
               "index": {"data_dir": str(directory), "inputs": [str(p) for p in inputs],
                         "distractors": distractors, **index_info},
               "seconds": {"ours": round(ours_seconds, 2)}}
    if naive_block is not None:
        metrics["naive"] = _system_block(naive_block, k)
        metrics["index"]["naive"] = naive_info
        metrics["seconds"]["naive"] = naive_info["query_seconds"]
    metrics["seconds"]["total"] = round(time.perf_counter() - started, 2)

    if report_dir is not None:
        from assistant.evaluation.report import write_report

        path = write_report(metrics, Path(report_dir))
        console.print(f"报告 / report: {path}")
    return metrics


def _check_arguments(baseline: str | None, k: int, distractors: int, folds: int,
                     only_folds: Sequence[int] | None) -> None:
    if folds < 1:
        raise ValueError("folds must be at least 1")
    if only_folds is not None and not all(0 <= f < folds for f in only_folds):
        raise ValueError(f"folds are numbered 0 to {folds - 1}")
    if baseline not in (None, "naive"):
        raise ValueError(f"unknown baseline {baseline!r}: the only baseline is 'naive'")
    if not 1 <= k <= 50:
        raise ValueError("k must be between 1 and 50")
    if distractors < 0:
        raise ValueError("the number of distractors cannot be negative")


def _inputs_and_directory(base: Settings, corpus: Sequence[Path] | None, distractors: int,
                          data_dir: Path | None) -> tuple[list[Path], Path]:
    """The files to index (the first ``distractors`` news articles written next to the index) and the
    evaluation's own data directory."""
    inputs = [Path(p) for p in corpus] if corpus else default_inputs()
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise FileNotFoundError(", ".join(missing))
    directory = Path(data_dir) if data_dir else Path(base.data_dir) / "eval" / input_key(inputs, distractors)
    directory = directory.resolve()
    if distractors:
        inputs = inputs + [write_distractors(news_source(), directory, distractors)]
    return inputs, directory


def _questions_block(path: Path, questions: list[EvalQuestion], folds: int,
                     only_folds: Sequence[int] | None) -> dict:
    return {"path": str(path), "sets": sorted({q.set_name for q in questions}), "count": len(questions),
            "answerable": sum(q.answerable for q in questions),
            "follow_up": sum(bool(q.history) for q in questions),
            "folds": folds, "only_folds": sorted(set(only_folds)) if only_folds is not None else None}


@dataclass
class _Outcome:
    """A question, what the system returned (Answer JSON shape), and its judgement."""

    question: EvalQuestion
    answer: dict
    judged: Judged


def _groups(q: EvalQuestion, language: str, folds: int) -> dict[str, str]:
    return {"kind": kind_of(q, language), "language": q.lang or language, "turn": q.turn, "set": q.set_name,
            "fold": f"{q.fold(folds)}/{folds}"}


def _select(questions: list[EvalQuestion], folds: int, only_folds: Sequence[int] | None,
            kinds: Path | None) -> list[EvalQuestion]:
    """The questions to ask: those of ``only_folds`` (all when None), with kinds from the table."""
    table = kinds if kinds is not None else repo_root() / "eval" / "kinds.tsv"
    if kinds is not None or table.is_file():
        apply_kinds(questions, read_kinds_table(table))
    if only_folds is not None:
        questions = [q for q in questions if q.fold(folds) in set(only_folds)]
        if not questions:
            raise ValueError(f"no question falls in folds {sorted(set(only_folds))} of {folds}")
    return questions


def _run_ours(assistant, questions: list[EvalQuestion], out: Path | None, console,
              folds: int) -> list[_Outcome]:
    from assistant.errors import QuestionError
    from assistant.schema import Answer
    from assistant.text import detect_language

    index_texts = [normalize_for_match(c.text) for c in assistant.index.snapshot.chunks.values()]
    # One untimed question first: lazy loading (model, tokenizer, jieba) is not query latency.
    try:
        assistant.ask(questions[0].question if questions else "warm-up")
    except QuestionError:
        pass
    outcomes: list[_Outcome] = []
    sink = _open_out(out)
    try:
        with _ProgressBar(console, "ours", len(questions)) as advance:
            for q in questions:
                error = None
                try:
                    answer = assistant.ask(q.question, q.history)
                except QuestionError as exc:
                    error = exc.code
                    answer = Answer(question=q.question, answer=exc.message, refused=True,
                                    language=q.lang or detect_language(q.question), warnings=[exc.code])
                answer.id = q.id
                record = answer.model_dump()
                if sink:
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                    sink.flush()
                judged = Judged(
                    qid=q.id,
                    answerable=q.answerable,
                    refused=answer.refused,
                    retrieved=judge_texts([s.text for s in answer.sources], q.sources_contain,
                                          keys=[s.chunk_id for s in answer.sources]),
                    cited=judge_texts([c.text for c in answer.citations], q.sources_contain,
                                      keys=[c.chunk_id for c in answer.citations]),
                    n_relevant=count_relevant(index_texts, q.sources_contain) if q.answerable else None,
                    timings_ms=dict(answer.timings_ms),
                    groups=_groups(q, answer.language, folds),
                    error=error,
                )
                outcomes.append(_Outcome(q, record, judged))
                advance()
    finally:
        if sink:
            sink.close()
    return outcomes


def _run_naive(assistant, cfg: Settings, inputs: list[Path], questions: list[EvalQuestion], k: int,
               out: Path | None, console, folds: int) -> tuple[dict, list[_Outcome]]:
    from assistant.evaluation.naive import NaiveBaseline
    from assistant.text import detect_language

    console.print("[bold]基线 / naive baseline[/bold]: RecursiveCharacterTextSplitter(500, 50) → "
                  "Chroma.similarity_search")
    naive = NaiveBaseline(cfg.data_dir / "naive-chroma", assistant.embedder.as_langchain(),
                          assistant.embedder.model_id)
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 10 or done == total:
            last[0] = time.perf_counter()
            console.print(f"  … {done}/{total} chunks embedded and added")

    info = naive.build(inputs, progress)
    console.print(f"  {info['documents']} documents, {info['chunks']} chunks "
                  f"({'reused' if info['reused'] else 'built'}, {info['seconds']:.1f} s)")
    if questions:
        naive.search(questions[0].question, k)  # warm-up, as for ours
    outcomes: list[_Outcome] = []
    started = time.perf_counter()
    sink = _open_out(out.with_name(out.stem + ".naive.jsonl") if out else None)
    try:
        with _ProgressBar(console, "naive", len(questions)) as advance:
            for q in questions:
                t = time.perf_counter()
                found = naive.search(q.question, k)
                ms = round((time.perf_counter() - t) * 1000, 2)
                sources = [_naive_source(i, c, d) for i, (c, d) in enumerate(found, start=1)]
                language = q.lang or detect_language(q.question)
                record = {"id": q.id, "question": q.question, "standalone_question": q.question, "answer": "",
                          "refused": False, "language": language, "citations": [], "sources": sources,
                          "warnings": [], "timings_ms": {"retrieve": ms, "total": ms}}
                if sink:
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                judged = Judged(
                    qid=q.id, answerable=q.answerable, refused=False,
                    retrieved=judge_texts([c.text for c, _ in found], q.sources_contain,
                                          keys=[c.chunk_id for c, _ in found]),
                    cited=None,
                    n_relevant=count_relevant(naive.normalized_texts(), q.sources_contain)
                    if q.answerable else None,
                    timings_ms=record["timings_ms"],
                    groups=_groups(q, language, folds),
                )
                outcomes.append(_Outcome(q, record, judged))
                advance()
    finally:
        if sink:
            sink.close()
    info["query_seconds"] = round(time.perf_counter() - started, 2)
    info["recipe"] = {"splitter": "RecursiveCharacterTextSplitter", "chunk_size": 500, "chunk_overlap": 50,
                      "store": "langchain_chroma.Chroma", "search": "similarity_search", "refusal": False}
    return info, outcomes


def _naive_source(rank: int, chunk, distance: float) -> dict:
    """A naive hit in the Answer JSON's source shape (no section: the splitter knows none)."""
    return {"marker": rank, "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "doc_title": chunk.doc_title,
            "suggestion_no": "", "section": f"#{chunk.order + 1}", "text": chunk.text,
            "score": round(distance, 4), "start": 0, "end": 0, "highlights": []}


def _open_out(path: Path | None):
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


class _ProgressBar:
    """A progress bar on the console while questions are asked (silent when not a terminal)."""

    def __init__(self, console, label: str, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             console=console, disable=not console.is_terminal, transient=True)
        self._task = self._bar.add_task(label, total=total)

    def __enter__(self):
        self._bar.__enter__()
        return lambda: self._bar.advance(self._task)

    def __exit__(self, *exc):
        return self._bar.__exit__(*exc)


# ---- the metrics object ------------------------------------------------------------------------
def _system_block(outcomes: list[_Outcome], k: int) -> dict:
    judged = [o.judged for o in outcomes]
    return {
        "overall": summarize(judged),
        "latency_ms": latency(judged),
        **{f"by_{key}": breakdown(judged, key) for key in GROUPS},
        "failures": [_failure(o, k) for o in outcomes if problems(o.judged, k)],
    }


def _failure(o: _Outcome, k: int) -> dict:
    """A failed question with what was retrieved instead: the top sections, each in one line."""
    rank = next((i for i, rel in enumerate(o.judged.retrieved, start=1) if rel), None)
    return {
        "id": o.question.id,
        "set": o.question.set_name,
        "question": o.question.question,
        "history": bool(o.question.history),
        "standalone_question": o.answer.get("standalone_question", ""),
        "problems": problems(o.judged, k),
        "gold": o.question.sources_contain,
        "gold_rank": rank,
        "refused": o.answer.get("refused", False),
        "answer": (o.answer.get("answer") or "")[:200],
        "retrieved": [
            {"rank": s.get("marker", i), "doc_title": s.get("doc_title", ""), "section": s.get("section", ""),
             "preview": _preview(s.get("text", ""))}
            for i, s in enumerate(o.answer.get("sources", [])[:_FAILURE_SOURCES], start=1)
        ],
    }


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _FAILURE_PREVIEW else flat[:_FAILURE_PREVIEW] + "…"

