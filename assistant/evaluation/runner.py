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

import gzip
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
from assistant.settings import Settings

#: Breakdown keys: how questions are grouped in the report.
GROUPS = ("language", "turn", "set")
_FAILURE_PREVIEW = 60
_FAILURE_SOURCES = 3


class QuestionFileError(ValueError):
    """A question file is malformed; the message names the file and line."""


@dataclass
class EvalQuestion:
    """One line of a question file (see ARCHITECTURE.md, "Question file")."""

    id: str
    question: str
    history: list[dict] = field(default_factory=list)
    answerable: bool = True
    sources_contain: list[str] = field(default_factory=list)
    lang: str | None = None
    set_name: str = ""

    @property
    def turn(self) -> str:
        return "follow_up" if self.history else "single"


# ---- inputs ------------------------------------------------------------------------------------
def repo_root() -> Path:
    """The project folder (holding ``corpus/``): the package's parent in a checkout, else the cwd."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "corpus").is_dir() else Path.cwd().resolve()


def shared_data_dir(root: Path | None = None) -> Path:
    """``../shared/data`` next to the project, where the work reports and the news set live."""
    return (root or repo_root()).parent / "shared" / "data"


def default_inputs(root: Path | None = None) -> list[Path]:
    """``corpus/`` and the government work reports; a clear error when either is missing."""
    root = root or repo_root()
    corpus = root / "corpus"
    reports = shared_data_dir(root) / "gov-work-reports"
    for path, what in ((corpus, "the shipped replies"), (reports, "the government work reports")):
        if not path.is_dir():
            raise FileNotFoundError(
                f"{path} ({what}; the default evaluation corpus — name other files with --corpus)")
    return [corpus, reports]


def news_source(root: Path | None = None) -> Path:
    path = shared_data_dir(root) / "crud-news" / "news-20k.jsonl.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} (the news articles used as distractors by --distractors)")
    return path


def input_key(inputs: Sequence[Path], distractors: int) -> str:
    """Short hash of the resolved input list and N: the default evaluation data directory's name."""
    payload = json.dumps({"inputs": sorted(str(Path(p).resolve()) for p in inputs), "distractors": distractors})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def write_distractors(source: Path, directory: Path, n: int) -> Path:
    """The first ``n`` lines of the news set as ``news-first-N.jsonl.gz`` in ``directory`` (written once).

    The file is written to a temporary name and renamed, so an interrupted run never leaves a
    short file behind that a later run would trust.
    """
    target = directory / f"news-first-{n}.jsonl.gz"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    written = 0
    with gzip.open(source, "rt", encoding="utf-8") as src, \
            gzip.GzipFile(partial, "wb", mtime=0) as raw:
        for line in src:
            if written >= n:
                break
            if line.strip():
                raw.write(line.rstrip("\n").encode("utf-8") + b"\n")
                written += 1
    partial.replace(target)
    return target


def eval_settings(base: Settings, data_dir: Path, k: int) -> Settings:
    """The app's settings pointed at the evaluation data directory, sharing model and cache."""
    data = base.model_dump()
    data.update(
        data_dir=Path(data_dir).resolve(),
        models_path=Path(base.models_dir).resolve(),
        embedding_cache_path=Path(base.embedding_cache_file).resolve(),
        chroma_url=None,
        top_k=k,
    )
    return Settings(**data)


# ---- questions ---------------------------------------------------------------------------------
def load_questions(path: Path) -> list[EvalQuestion]:
    """Every question of a JSONL file, or of every ``*.jsonl`` file in a folder (each file is a set)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path} (no *.jsonl question file in this folder)")
    questions: list[EvalQuestion] = []
    for file in files:
        questions.extend(_read_question_file(file))
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise QuestionFileError(f"{path}: question ids are not unique: {', '.join(duplicates[:10])}")
    return questions


def _read_question_file(file: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    name = file.name.removesuffix(".jsonl")
    for lineno, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{file}:{lineno}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise QuestionFileError(f"{where}: each line must be an object with a \"question\" string")
        expected = item.get("expected") or {}
        if not isinstance(expected, dict) or not isinstance(expected.get("answerable", True), bool):
            raise QuestionFileError(f"{where}: \"expected\" must be an object with a boolean \"answerable\"")
        phrases = expected.get("sources_contain") or []
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise QuestionFileError(f"{where}: \"sources_contain\" must be a list of strings")
        answerable = expected.get("answerable", True)
        if answerable and not any(normalize_for_match(p) for p in phrases):
            raise QuestionFileError(f"{where}: an answerable question needs at least one sources_contain phrase")
        history = item.get("history") or []
        if not isinstance(history, list):
            raise QuestionFileError(f"{where}: \"history\" must be a list of {{role, content}} messages")
        out.append(EvalQuestion(
            id=str(item.get("id") or f"{name}-{lineno}"), question=item["question"], history=history,
            answerable=answerable, sources_contain=phrases, lang=item.get("lang") or None, set_name=name,
        ))
    return out


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
) -> dict:
    """Index, ask, score (and report); returns the metrics object.

    ``corpus`` defaults to ``corpus/`` and the work reports; ``distractors`` adds the first N news
    articles; ``baseline="naive"`` also runs the common LangChain recipe on the same documents;
    ``out`` receives one Answer JSON per line (the baseline's answers go next to it, as
    ``<stem>.naive.jsonl``); ``report_dir`` receives ``report.md`` and the charts; ``data_dir``
    overrides the evaluation data directory; ``settings`` are the app's settings (read from the
    environment when omitted).
    """
    from rich.console import Console

    console = console or Console(stderr=True, quiet=True)
    if baseline not in (None, "naive"):
        raise ValueError(f"unknown baseline {baseline!r}: the only baseline is 'naive'")
    if not 1 <= k <= 50:
        raise ValueError("k must be between 1 and 50")
    if distractors < 0:
        raise ValueError("the number of distractors cannot be negative")
    questions = load_questions(Path(questions_path))
    base = settings or Settings()
    inputs = [Path(p) for p in corpus] if corpus else default_inputs()
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise FileNotFoundError(", ".join(missing))
    news = news_source() if distractors else None
    directory = Path(data_dir) if data_dir else Path(base.data_dir) / "eval" / input_key(inputs, distractors)
    directory = directory.resolve()
    if news is not None:
        inputs = inputs + [write_distractors(news, directory, distractors)]
    cfg = eval_settings(base, directory, k)
    started = time.perf_counter()

    assistant, index_info = _build_index(cfg, inputs, console)
    console.print(f"[bold]提问 / asking[/bold] {len(questions)} questions (k={k})")
    ours_started = time.perf_counter()
    ours = _run_ours(assistant, questions, out, console)
    ours_seconds = time.perf_counter() - ours_started

    naive_block = None
    naive_info = None
    if baseline == "naive":
        naive_info, naive_block = _run_naive(assistant, cfg, inputs, questions, k, out, console)

    metrics = {
        "k": k,
        "questions": {
            "path": str(Path(questions_path)),
            "sets": sorted({q.set_name for q in questions}),
            "count": len(questions),
            "answerable": sum(q.answerable for q in questions),
            "follow_up": sum(bool(q.history) for q in questions),
        },
        "ours": _system_block(ours, k),
        "index": {
            "data_dir": str(directory),
            "inputs": [str(p) for p in inputs],
            "distractors": distractors,
            **index_info,
        },
        "seconds": {"ours": round(ours_seconds, 2)},
    }
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


@dataclass
class _Outcome:
    """A question, what the system returned (Answer JSON shape), and its judgement."""

    question: EvalQuestion
    answer: dict
    judged: Judged


def _build_index(cfg: Settings, inputs: list[Path], console):
    from assistant.core import Assistant
    from assistant.index.ingest import Ingestor

    console.print(f"[bold]索引 / indexing[/bold] {', '.join(map(str, inputs))} → {cfg.data_dir}")
    assistant = Assistant.from_settings(cfg)
    t = time.perf_counter()
    report = assistant.ingest(inputs, prune=True, progress=_ingest_progress(console))
    # The index must hold exactly these inputs: drop documents a --data-dir reused from another run.
    roots = [p.resolve() for p in inputs]
    foreign = [d.doc_id for d in assistant.registry.documents()
               if not any(_within(Path(_file_of(d.source)).resolve(), r) for r in roots)]
    if foreign:
        Ingestor(cfg, assistant.embedder, assistant.registry, assistant.vectors, assistant.lexicon).remove(foreign)
        assistant.index.reload()
    for failure in report.failed:
        console.print(f"[yellow]未能导入 / not ingested: {failure.path}: {failure.error}[/yellow]")
    snapshot = assistant.index.snapshot
    console.print(f"  {len(snapshot.documents)} documents, {len(snapshot.chunks)} chunks "
                  f"({report.chunks_embedded} embedded now, {time.perf_counter() - t:.1f} s)")
    return assistant, {
        "documents": len(snapshot.documents),
        "chunks": len(snapshot.chunks),
        "ingest": {**report.to_json(), "foreign_removed": len(foreign)},
    }


def _ingest_progress(console):
    counts = {"document": 0, "embedded": 0}
    last = [time.perf_counter()]

    def progress(event: str, n: int) -> None:
        if event in counts:
            counts[event] += n
        if time.perf_counter() - last[0] >= 10:
            last[0] = time.perf_counter()
            console.print(f"  … {counts['document']} documents, {counts['embedded']} chunks embedded")

    return progress


def _file_of(source: str) -> str:
    head, sep, tail = source.rpartition("#")
    return head if sep and tail.isdigit() else source


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _groups(q: EvalQuestion, language: str) -> dict[str, str]:
    return {"language": q.lang or language, "turn": q.turn, "set": q.set_name}


def _run_ours(assistant, questions: list[EvalQuestion], out: Path | None, console) -> list[_Outcome]:
    from assistant.core import QuestionError
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
                    groups=_groups(q, answer.language),
                    error=error,
                )
                outcomes.append(_Outcome(q, record, judged))
                advance()
    finally:
        if sink:
            sink.close()
    return outcomes


def _run_naive(assistant, cfg: Settings, inputs: list[Path], questions: list[EvalQuestion], k: int,
               out: Path | None, console) -> tuple[dict, list[_Outcome]]:
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
                    groups=_groups(q, language),
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

