"""What an evaluation indexes, and where: the default inputs, news distractors, its own data directory."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.settings import Settings


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


def build_index(cfg: Settings, inputs: list[Path], console):
    """The Assistant over exactly ``inputs`` (ingested incrementally into ``cfg.data_dir``) and what it holds."""
    from assistant.core import Assistant

    console.print(f"[bold]索引 / indexing[/bold] {', '.join(map(str, inputs))} → {cfg.data_dir}")
    assistant = Assistant.from_settings(cfg)
    t = time.perf_counter()
    report = assistant.ingest(inputs, prune=True, progress=_ingest_progress(console))
    # The index must hold exactly these inputs: drop documents a --data-dir reused from another run.
    roots = [p.resolve() for p in inputs]
    foreign = [d.doc_id for d in assistant.registry.documents()
               if not any(_within(Path(_file_of(d.source)).resolve(), r) for r in roots)]
    if foreign:
        assistant.remove(foreign)
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
