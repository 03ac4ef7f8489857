"""How ingestion, queries, memory and start-up scale with the corpus: ours vs the common recipe.

    python eval/bench_scale.py --sizes 1000,5000,20000 --naive-sizes 1000,5000
    python eval/bench_scale.py --sizes 5000 --chunk-chars 500        # ours at the recipe's chunk length
    python eval/bench_scale.py --sizes 200 --naive-sizes 200          # a quick check

For each size N it writes the first N articles of ``../shared/data/crud-news/news-20k.jsonl.gz``
as a ``.jsonl.gz`` next to a copy of ``corpus/`` in a fresh temporary folder, then measures, each
phase in its own subprocess of this script (so that every phase's peak RSS and CPU time are its
own, read with ``os.wait4``):

* ours, first ingest — a fresh data directory and a fresh embedding cache inside the temporary
  folder (nothing is reused), the prepared model from ``--models`` (default ``data/models``):
  wall seconds of ``Assistant.ingest`` (model loading excluded, reported apart), chunks, chunks/s,
  characters embedded/s (``index_text``: title + heading path + section), corpus characters/s,
  mean chunk length, peak RSS;
* ours, re-ingest of the unchanged corpus in a new process: wall seconds and speed-up;
* ours, queries — a process loads the ``Assistant`` over that index, answers 3 warm-up questions
  and then ``--questions`` questions of ``eval/questions/seed-616.jsonl`` (those without history):
  p50/p95 of every stage of ``Answer.timings_ms``, and the process's RSS (the app's memory);
* ours, cold start — ``assistant serve --data-dir DIR`` on a free loopback port: seconds until
  ``/readyz`` answers 200 over the existing index, and the server's RSS then;
* the common recipe (for the sizes in ``--naive-sizes``), on the very same files, in its own
  folder: ``assistant.evaluation.naive.NaiveBaseline`` — RecursiveCharacterTextSplitter(500, 50)
  + the same model through sentence-transformers' ``encode`` with its defaults (fp32, batch 32, as
  ``HuggingFaceEmbeddings`` does) + ``langchain_chroma.Chroma.add_texts`` —
  chunks, wall seconds, chunks/s, characters/s, mean chunk length, peak RSS, then
  ``similarity_search`` latency on the same questions.

Ratios ours ÷ recipe are reported per chunk, per embedded character and per corpus character
(our chunks are at most ``--chunk-chars``, 400 by default, the recipe's at most 500).

The results are merged per chunk length and size into ``OUT/bench_scale.json`` (so sizes can be
run in separate invocations), printed as one JSON document, and drawn into
``OUT/bench_scale.png``. Machine information (CPUs, load average before and after, torch
threads, embedding precision) is recorded with every size: the figures are only as good as the
CPU share the benchmark got, and ``cpu_s`` ÷ ``wall_s`` of each phase shows it.

Bounded: every phase has a deadline (``--phase-timeout``, ``--startup-timeout``); a phase that
fails or overruns is recorded as an error and the run goes on with the next size. Progress goes
to stderr, the JSON document to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from bench_api import QUESTIONS, free_port, load_questions, summary  # same folder: shared helpers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "out" / "bench_scale"
DEFAULT_MODELS = ROOT / "data" / "models"
RESULT_FILE = "bench_scale.json"
PLOT_FILE = "bench_scale.png"
#: The order stages are reported in; any other key of ``timings_ms`` follows these.
STAGES = ("rewrite", "retrieve", "retrieve.embed", "retrieve.dense", "retrieve.lexical", "retrieve.fuse",
          "answer", "validate", "total")
WARMUP = 3


def log(message: str) -> None:
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def proc_status_mb(field: str, pid: int | str = "self") -> float | None:
    """``VmRSS``/``VmHWM``/… of a process, in MB (Linux ``/proc``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def rate(amount: float, seconds: float) -> float | None:
    return round(amount / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def stats(values: list[float]) -> dict:
    return {**summary(values), "n": len(values)} if values else {"n": 0}


# =================================================================================================
# Phases: each runs in a subprocess of this script (``--phase NAME``)
# =================================================================================================

def phase_settings(cfg: dict):
    from assistant.settings import Settings

    return Settings(data_dir=Path(cfg["data_dir"]), models_path=Path(cfg["models_path"]),
                    embedding_cache_path=Path(cfg["cache_path"]), max_chunk_chars=cfg["chunk_chars"],
                    threads=cfg["threads"])


def embedder_info(embedder) -> dict:
    import torch

    return {"model_id": embedder.model_id, "bf16": bool(embedder.bf16), "batch_size": embedder.batch_size,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def ingest_progress():
    counts = {"document": 0, "chunks": 0, "embedded": 0}
    last = [time.perf_counter()]

    def progress(event: str, n: int) -> None:
        counts[event] = counts.get(event, 0) + n
        if time.perf_counter() - last[0] >= 15:
            last[0] = time.perf_counter()
            log(f"  … {counts['document']} documents, {counts['chunks']} chunks, "
                f"{counts['embedded']} embedded")

    return progress


def phase_ingest(cfg: dict) -> dict:
    """Load the Assistant, ingest the inputs (first time or again), describe the index's chunks."""
    from assistant.core import Assistant

    started = time.perf_counter()
    assistant = Assistant.from_settings(phase_settings(cfg))
    load_s = time.perf_counter() - started
    rss_loaded = proc_status_mb("VmRSS")
    started = time.perf_counter()
    report = assistant.ingest([Path(cfg["inputs"])], progress=ingest_progress())
    ingest_s = time.perf_counter() - started
    texts, index_texts = [], []
    for chunk, _ in assistant.registry.iter_chunks():
        texts.append(len(chunk.text))
        index_texts.append(chunk.index_text)
    unique = set(index_texts)
    return {
        "wall_s": round(ingest_s, 3),
        "model_load_s": round(load_s, 2),
        "report": report.to_json(),
        "documents": len(assistant.registry.documents()),
        "chunks": len(texts),
        "chunks_embedded": report.chunks_embedded,
        "chunk_chars_mean": round(sum(texts) / len(texts), 1) if texts else None,
        "chunk_chars_max": max(texts, default=0),
        "index_chars_mean": round(sum(map(len, index_texts)) / len(index_texts), 1) if index_texts else None,
        "embedded_chars": sum(map(len, unique)),  # each distinct text is embedded once
        "rss_after_model_load_mb": rss_loaded,
        "embedder": embedder_info(assistant.embedder),
    }


def phase_query(cfg: dict) -> dict:
    """An app process: the Assistant over the index, warm-up questions, then the measured ones."""
    from assistant.core import Assistant

    started = time.perf_counter()
    settings = phase_settings(cfg)
    assistant = Assistant.from_settings(settings)
    assistant.embedder.set_threads(settings.serve_threads)  # as the web server answers
    readiness = assistant.readiness()
    load_s = time.perf_counter() - started
    for question in cfg["warmup"]:
        assistant.ask(question)
    timings: dict[str, list[float]] = defaultdict(list)
    wall, refused = [], 0
    for question in cfg["questions"]:
        t = time.perf_counter()
        answer = assistant.ask(question)
        wall.append((time.perf_counter() - t) * 1000)
        refused += bool(answer.refused)
        for key, value in answer.timings_ms.items():
            timings[key].append(float(value))
    keys = [k for k in STAGES if k in timings] + sorted(k for k in timings if k not in STAGES)
    return {
        "assistant_load_s": round(load_s, 2),
        "index": {k: readiness[k] for k in ("ready", "documents", "chunks")},
        "warmup": len(cfg["warmup"]),
        "questions": len(cfg["questions"]),
        "refused": refused,
        "timings_ms": {k: stats(timings[k]) for k in keys},
        "wall_ms": stats(wall),
        "app_rss_mb": proc_status_mb("VmRSS"),
        "embedder": embedder_info(assistant.embedder),
    }


def phase_naive(cfg: dict) -> dict:
    """The common recipe (``assistant.evaluation.naive``) on the same files, then its search latency."""
    from assistant.embedding import Embedder
    from assistant.evaluation.naive import NaiveBaseline, recipe_embeddings

    settings = phase_settings(cfg)
    started = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    load_s = time.perf_counter() - started
    # The recipe's own embedding call (sentence-transformers defaults), not our faster one.
    naive = NaiveBaseline(Path(cfg["naive_dir"]), recipe_embeddings(embedder), embedder.model_id)
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 15:
            last[0] = time.perf_counter()
            log(f"  … {done}/{total} chunks embedded and added")

    started = time.perf_counter()
    info = naive.build([Path(cfg["inputs"])], progress)
    build_s = time.perf_counter() - started
    lengths = [len(c.text) for c in naive.chunks]
    for question in cfg["warmup"]:
        naive.search(question, settings.top_k)
    latencies = []
    for question in cfg["questions"]:
        t = time.perf_counter()
        naive.search(question, settings.top_k)
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "wall_s": round(build_s, 3),
        "model_load_s": round(load_s, 2),
        "documents": info["documents"],
        "chunks": info["chunks"],
        "reused": info["reused"],
        "skipped_files": info["skipped_files"],
        "chunk_chars_mean": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "chunk_chars_max": max(lengths, default=0),
        "embedded_chars": sum(lengths),  # add_texts embeds every chunk, duplicates too
        "k": settings.top_k,
        "similarity_search_ms": stats(latencies),
        "app_rss_mb": proc_status_mb("VmRSS"),
        "embedder": {**embedder_info(embedder), "bf16": False, "batch_size": 32,
                     "call": "SentenceTransformer.encode (defaults)"},
    }


PHASES = {"ingest": phase_ingest, "reingest": phase_ingest, "query": phase_query, "naive": phase_naive}


def run_phase_here(name: str, config: Path, result: Path) -> int:
    cfg = json.loads(config.read_text(encoding="utf-8"))
    out = PHASES[name](cfg)
    out["peak_rss_mb"] = proc_status_mb("VmHWM")
    result.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


# =================================================================================================
# The parent: inputs, subprocesses, the server, results, the plot
# =================================================================================================

class PhaseFailed(RuntimeError):
    pass


def child_env(cfg: dict, work: Path) -> dict[str, str]:
    """This environment without ``ASSISTANT_*`` (the phase's settings are explicit), offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_CONFIG=str(work / "no-such-config.toml"),  # no assistant.toml from the cwd
        HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(cfg["threads"])),
    )
    return env


def reap(proc: subprocess.Popen, timeout: float) -> tuple[int, resource.struct_rusage, bool]:
    """Wait for ``proc`` (killing it, by its pid, after ``timeout``); its exit code, own rusage, timed out."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage, timed_out
        if time.monotonic() > deadline and not timed_out:
            proc.kill()
            timed_out = True
            deadline = time.monotonic() + 60
        time.sleep(0.2)


def usage_block(usage: resource.struct_rusage, wall: float, load_before: list[float]) -> dict:
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "cpu_per_wall": round(cpu / wall, 2) if wall else None,
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1), "load_avg_before": load_before,
            "load_avg_after": load_average()}


def run_phase(name: str, cfg: dict, work: Path, timeout: float) -> dict:
    """Run one phase in a subprocess of this script; its result with the process's own figures."""
    config, result = work / f"{name}.config.json", work / f"{name}.result.json"
    config.write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    result.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", name,
               "--phase-config", str(config), "--phase-result", str(result)]
    load_before = load_average()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=sys.stderr, env=child_env(cfg, work), cwd=ROOT)
    code, usage, timed_out = reap(proc, timeout)
    wall = time.perf_counter() - started
    if timed_out:
        raise PhaseFailed(f"phase {name} did not finish within {timeout:.0f} s (killed)")
    if code != 0 or not result.exists():
        raise PhaseFailed(f"phase {name} exited with {code}")
    out = json.loads(result.read_text(encoding="utf-8"))
    out["process"] = usage_block(usage, wall, load_before)
    return out


def assistant_executable() -> str:
    local = Path(sys.executable).parent / "assistant"
    return str(local) if local.exists() else (shutil.which("assistant") or "assistant")


def cold_start(cfg: dict, work: Path, timeout: float) -> dict:
    """``assistant serve`` over the existing index: seconds until ``/readyz`` says 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = child_env(cfg, work)
    env.update(ASSISTANT_MODELS_PATH=cfg["models_path"], ASSISTANT_EMBEDDING_CACHE_PATH=cfg["cache_path"],
               ASSISTANT_MAX_CHUNK_CHARS=str(cfg["chunk_chars"]), ASSISTANT_THREADS=str(cfg["threads"]))
    env.pop("ASSISTANT_LLM_BASE_URL", None)
    command = [assistant_executable(), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", cfg["data_dir"]]
    log_path = work / "serve.log"
    load_before = load_average()
    out: dict = {}
    with log_path.open("wb") as server_log, httpx.Client(timeout=5, trust_env=False) as client:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT, env=env, cwd=work)
        try:
            while True:
                elapsed = time.perf_counter() - started
                if elapsed > timeout:
                    raise PhaseFailed(f"assistant serve was not ready within {timeout:.0f} s; see {log_path}")
                if proc.poll() is not None:
                    raise PhaseFailed(f"assistant serve exited with {proc.returncode}; see {log_path}")
                try:
                    response = client.get(f"{url}/readyz")
                    out.setdefault("first_http_s", round(elapsed, 2))
                    if response.status_code == 200:
                        out["ready_s"] = round(time.perf_counter() - started, 2)
                        body = response.json()
                        out["index"] = {k: body.get(k) for k in ("documents", "chunks")}
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            out["serve_rss_ready_mb"] = proc_status_mb("VmRSS", proc.pid)
        finally:
            if proc.returncode is None:
                proc.terminate()
                _, usage, _ = reap(proc, 20)
                out["process"] = usage_block(usage, time.perf_counter() - started, load_before)
    return out


# ---- inputs ---------------------------------------------------------------------------------------

def write_inputs(folder: Path, news: Path, n: int) -> dict:
    """A copy of ``corpus/`` and the first ``n`` news articles (``news-first-N.jsonl.gz``) in ``folder``."""
    from assistant.evaluation.naive import load_texts
    from assistant.evaluation.runner import write_distractors

    shutil.copytree(ROOT / "corpus", folder / "corpus")
    if n > 0:
        write_distractors(news, folder, n)
    docs = list(load_texts([folder]))  # read as the ingest and the recipe read them
    replies = {d for d, _, _ in load_texts([folder / "corpus"])}
    return {"documents": len({d for d, _, _ in docs}), "replies": len(replies),
            "news_articles": len({d for d, _, _ in docs} - replies),
            "corpus_chars": sum(len(t) for _, _, t in docs)}


# ---- one size -------------------------------------------------------------------------------------

def measure_size(n: int, run_ours: bool, run_naive: bool, args: argparse.Namespace,
                 questions: list[str], warmup: list[str]) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-", dir=args.work_dir))
    entry: dict = {"n": n, "chunk_chars": args.chunk_chars, "measured_at": now_iso(),
                   "machine": {"load_avg_start": load_average()}}
    try:
        log(f"N={n}: writing the inputs into {work}")
        inputs = work / "inputs"
        entry["inputs"] = write_inputs(inputs, args.news, n)
        if entry["inputs"]["news_articles"] < n:
            log(f"N={n}: the news set holds only {entry['inputs']['news_articles']} articles")
        corpus_chars = entry["inputs"]["corpus_chars"]
        cfg = {"inputs": str(inputs), "data_dir": str(work / "data"),
               "cache_path": str(work / "cache" / "embeddings.sqlite3"),  # fresh: nothing reused
               "models_path": str(args.models.resolve()), "naive_dir": str(work / "naive"),
               "chunk_chars": args.chunk_chars, "threads": args.threads,
               "questions": questions, "warmup": warmup}
        if run_ours:
            entry["ours"] = measure_ours(n, cfg, work, args, corpus_chars)
        if run_naive:
            entry["naive"] = measure_naive(n, cfg, work, args, corpus_chars)
    finally:
        entry["machine"]["load_avg_end"] = load_average()
        if args.keep:
            log(f"N={n}: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return entry


def measure_ours(n: int, cfg: dict, work: Path, args: argparse.Namespace, corpus_chars: int) -> dict:
    ours: dict = {}
    try:
        log(f"N={n}: ours — first ingest (fresh data dir, fresh embedding cache)")
        first = run_phase("ingest", cfg, work, args.phase_timeout)
        wall = first["wall_s"]
        ours["first_ingest"] = {
            "wall_s": wall, "documents": first["documents"], "chunks": first["chunks"],
            "chunks_embedded": first["chunks_embedded"],
            "chunks_per_s": rate(first["chunks"], wall),
            "embedded_chars_per_s": rate(first["embedded_chars"], wall),
            "corpus_chars_per_s": rate(corpus_chars, wall),
            "chunk_chars_mean": first["chunk_chars_mean"], "chunk_chars_max": first["chunk_chars_max"],
            "index_chars_mean": first["index_chars_mean"], "embedded_chars": first["embedded_chars"],
            "peak_rss_mb": first["process"]["max_rss_mb"],
            "rss_after_model_load_mb": first["rss_after_model_load_mb"],
            "model_load_s": first["model_load_s"], "failed": first["report"]["documents"]["failed"][:5],
            "process": first["process"],
        }
        ours["embedder"] = first["embedder"]
        log(f"N={n}: ours — {first['chunks']} chunks in {wall:.1f} s "
            f"({ours['first_ingest']['chunks_per_s']} chunks/s); re-ingest")
    except PhaseFailed as exc:
        log(f"N={n}: {exc}")
        ours["error"] = str(exc)
        return ours  # nothing else to measure without an index
    for name, step in (("reingest", lambda: run_phase("reingest", cfg, work, args.phase_timeout)),
                       ("query", lambda: run_phase("query", cfg, work, args.phase_timeout)),
                       ("cold_start", lambda: cold_start(cfg, work, args.startup_timeout))):
        try:
            if name == "query":
                log(f"N={n}: ours — {len(cfg['warmup'])} warm-up + {len(cfg['questions'])} questions")
            elif name == "cold_start":
                log(f"N={n}: ours — cold start of assistant serve")
            got = step()
        except PhaseFailed as exc:
            log(f"N={n}: {exc}")
            ours[name] = {"error": str(exc)}
            continue
        if name == "reingest":
            ours[name] = {"wall_s": got["wall_s"], "speedup": ratio(wall, got["wall_s"]),
                          "chunks_embedded": got["chunks_embedded"], "model_load_s": got["model_load_s"],
                          "peak_rss_mb": got["process"]["max_rss_mb"], "process": got["process"]}
        elif name == "query":
            ours[name] = {k: got[k] for k in ("questions", "warmup", "refused", "timings_ms", "wall_ms",
                                               "assistant_load_s", "index", "app_rss_mb")}
            ours[name]["app_peak_rss_mb"] = got["process"]["max_rss_mb"]
            ours[name]["process"] = got["process"]
        else:
            ours[name] = got
    return ours


def measure_naive(n: int, cfg: dict, work: Path, args: argparse.Namespace, corpus_chars: int) -> dict:
    log(f"N={n}: common recipe — split 500/50, same embedder, Chroma.add_texts; then similarity_search")
    try:
        got = run_phase("naive", cfg, work, args.phase_timeout)
    except PhaseFailed as exc:
        log(f"N={n}: {exc}")
        return {"error": str(exc)}
    wall = got["wall_s"]
    log(f"N={n}: common recipe — {got['chunks']} chunks in {wall:.1f} s")
    return {
        "ingest": {
            "wall_s": wall, "documents": got["documents"], "chunks": got["chunks"],
            "chunks_per_s": rate(got["chunks"], wall),
            "embedded_chars_per_s": rate(got["embedded_chars"], wall),
            "corpus_chars_per_s": rate(corpus_chars, wall), "chunk_chars_mean": got["chunk_chars_mean"],
            "chunk_chars_max": got["chunk_chars_max"], "embedded_chars": got["embedded_chars"],
            "peak_rss_mb": got["process"]["max_rss_mb"], "model_load_s": got["model_load_s"],
            "skipped_files": got["skipped_files"], "process": got["process"],
        },
        "query": {"k": got["k"], "questions": got["similarity_search_ms"]["n"],
                  "similarity_search_ms": got["similarity_search_ms"], "app_rss_mb": got["app_rss_mb"]},
        "embedder": got["embedder"],
    }


def ratios(entry: dict) -> dict | None:
    ours = (entry.get("ours") or {}).get("first_ingest")
    naive = (entry.get("naive") or {}).get("ingest")
    if not ours or not naive:
        return None
    out = {f"ingest_{key}": ratio(ours.get(key), naive.get(key))
           for key in ("chunks_per_s", "embedded_chars_per_s", "corpus_chars_per_s")}
    query = (entry["ours"].get("query") or {}).get("timings_ms", {})
    search = entry["naive"].get("query", {}).get("similarity_search_ms", {})
    for stage in ("total", "retrieve"):
        for q in ("p50", "p95"):
            out[f"query_{stage}_{q}_vs_similarity_search"] = ratio(query.get(stage, {}).get(q), search.get(q))
    out["note"] = ("ours ÷ common recipe. chunks/s favours the side with shorter chunks (ours ≤ "
                   "chunk_chars, the recipe's ≤ 500); embedded chars/s counts what each side runs through "
                   "the model (ours: title + heading path + section); corpus chars/s is the same corpus "
                   "over wall time. Query: our whole answer (rewrite, hybrid retrieval, extractive answer, "
                   "validation) against one similarity_search.")
    return out


# ---- results ---------------------------------------------------------------------------------------

def merge_results(path: Path, entries: list[dict], run_info: dict) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    document.setdefault("benchmark", "bench_scale")
    document["description"] = ("per chunk length (series) and number of news articles (N): ours vs the "
                                "common recipe — first ingest, re-ingest, query latency, memory, cold start")
    series = document.setdefault("series", {})
    for entry in entries:
        sizes = series.setdefault(f"chunk{entry['chunk_chars']}", {})
        old = sizes.get(str(entry["n"]), {})
        merged = {**old, **entry}  # a size run without the recipe keeps the recipe's earlier figures
        merged["ratios"] = ratios(merged)
        sizes[str(entry["n"])] = dict(sorted(merged.items(), key=lambda kv: list(ENTRY_ORDER).index(kv[0])
                                             if kv[0] in ENTRY_ORDER else len(ENTRY_ORDER)))
    for name in series:
        series[name] = dict(sorted(series[name].items(), key=lambda kv: int(kv[0])))
    document["updated"] = now_iso()
    document["runs"] = (document.get("runs") or [])[-19:] + [run_info]
    return document


ENTRY_ORDER = ("n", "chunk_chars", "measured_at", "inputs", "ratios", "ours", "naive", "machine")


def machine_info() -> dict:
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    except OSError:
        model = platform.processor()
    flags = ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
            "native_bf16": any(f in flags.split() for f in ("avx512_bf16", "amx_bf16")),
            "memory_total_mb": proc_meminfo_mb("MemTotal"), "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "nice": os.getpriority(os.PRIO_PROCESS, 0)}


def proc_meminfo_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


# ---- the plot ---------------------------------------------------------------------------------------

def draw_plot(document: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 4.8))
    FigureCanvasAgg(fig)
    ax_chunks, ax_chars, ax_query = fig.subplots(1, 3)
    naive_points: dict[int, dict] = {}
    all_n: set[int] = set()
    colours = ["tab:blue", "tab:green", "tab:purple", "tab:brown"]
    for i, (name, sizes) in enumerate(sorted(document.get("series", {}).items())):
        colour = colours[i % len(colours)]
        ours = [(int(n), e["ours"]) for n, e in sizes.items() if (e.get("ours") or {}).get("first_ingest")]
        for n, e in sizes.items():
            naive = (e.get("naive") or {})
            if naive.get("ingest"):
                previous = naive_points.get(int(n))
                if previous is None or e["measured_at"] > previous["measured_at"]:
                    naive_points[int(n)] = {**naive, "measured_at": e["measured_at"]}
        if not ours:
            continue
        xs = [n for n, _ in ours]
        all_n.update(xs)
        label = f"ours (≤{name.removeprefix('chunk')} chars)"
        ax_chunks.plot(xs, [o["first_ingest"]["chunks_per_s"] for _, o in ours], "o-", color=colour,
                       label=label)
        ax_chars.plot(xs, [o["first_ingest"]["embedded_chars_per_s"] for _, o in ours], "o-", color=colour,
                      label=label + ", embedded")
        ax_chars.plot(xs, [o["first_ingest"]["corpus_chars_per_s"] for _, o in ours], "o:", color=colour,
                      label=label + ", corpus")
        for q, style in (("p50", "o-"), ("p95", "^--")):
            points = [(n, o["query"]["timings_ms"]["total"][q]) for n, o in ours
                      if "total" in (o.get("query") or {}).get("timings_ms", {})]
            if points:
                ax_query.plot(*zip(*points), style, color=colour, label=f"{label}: answer {q}")
    if naive_points:
        xs = sorted(naive_points)
        all_n.update(xs)
        ing = [naive_points[n]["ingest"] for n in xs]
        ax_chunks.plot(xs, [x["chunks_per_s"] for x in ing], "s--", color="tab:red",
                       label="common recipe (≤500)")
        ax_chars.plot(xs, [x["embedded_chars_per_s"] for x in ing], "s--", color="tab:red",
                      label="common recipe, embedded")
        ax_chars.plot(xs, [x["corpus_chars_per_s"] for x in ing], "s:", color="tab:red",
                      label="common recipe, corpus")
        for q, style in (("p50", "s-"), ("p95", "v--")):
            points = [(n, naive_points[n]["query"]["similarity_search_ms"].get(q)) for n in xs]
            points = [p for p in points if p[1] is not None]
            if points:
                ax_query.plot(*zip(*points), style, color="tab:red", label=f"recipe: similarity_search {q}")
    for ax, title, ylabel in ((ax_chunks, "First ingest: chunks per second", "chunks/s"),
                              (ax_chars, "First ingest: characters per second", "chars/s"),
                              (ax_query, "Query latency (warm)", "ms")):
        ax.set_title(title)
        ax.set_xlabel("news articles N (+ corpus/)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if all_n and max(all_n) / max(min(all_n), 1) >= 10:
            ax.set_xscale("log")
        if all_n:
            ax.set_xticks(sorted(all_n))
            ax.set_xticklabels([str(n) for n in sorted(all_n)])
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.12)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    machine = (document.get("runs") or [{}])[-1].get("machine", {})
    fig.suptitle(f"bench_scale — {machine.get('cpus', '?')} CPUs, {machine.get('cpu_model', '')}",
                 fontsize=10)
    notes = []
    for name, sizes in sorted(document.get("series", {}).items()):
        for n, e in sizes.items():
            share = ((e.get("ours") or {}).get("first_ingest") or {}).get("process", {}).get("cpu_per_wall")
            load = e.get("machine", {}).get("load_avg_start", [None])[0]
            notes.append(f"{name} N={n}: ingest CPU/wall {share}, load {load}")
    if notes:
        fig.text(0.01, 0.01, " · ".join(notes)[:260], fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


# ---- main -----------------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[int]:
    sizes = [int(x) for x in text.replace(" ", "").split(",") if x]
    if any(n < 0 for n in sizes):
        raise argparse.ArgumentTypeError("sizes cannot be negative")
    return sizes


def main(argv: list[str] | None = None) -> int:
    from assistant.evaluation.runner import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=[1000, 5000, 20000],
                        help="numbers of news articles for our pipeline (default 1000,5000,20000)")
    parser.add_argument("--naive-sizes", type=parse_sizes, default=[],
                        help="sizes at which the common recipe is measured too (default none)")
    parser.add_argument("--chunk-chars", type=int, default=400, help="our max_chunk_chars (default 400)")
    parser.add_argument("--questions", type=int, default=40, help="measured questions (default 40)")
    parser.add_argument("--threads", type=int, default=2,
                        help="embedding threads (Settings.threads, default 2)")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS,
                        help="a prepared model folder (default data/models)")
    parser.add_argument("--news", type=Path,
                        default=shared_data_dir(ROOT) / "crud-news" / "news-20k.jsonl.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="results folder (default out/bench_scale)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the temporary folders go (default: TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--phase-timeout", type=float, default=3 * 3600.0,
                        help="seconds per phase (default 3 h)")
    parser.add_argument("--startup-timeout", type=float, default=900.0,
                        help="seconds for assistant serve to be ready (default 900)")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--phase-config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--phase-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        return run_phase_here(args.phase, args.phase_config, args.phase_result)

    if not args.sizes and not args.naive_sizes:
        parser.error("nothing to measure: give --sizes and/or --naive-sizes")
    if not args.news.is_file():
        parser.error(f"the news set is missing: {args.news}")
    if not (args.models / "multilingual-e5-small").is_dir():
        log(f"note: no prepared model in {args.models}; the first phase prepares it (not timed as ingest)")
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    all_questions = load_questions(QUESTIONS)
    unique = list(dict.fromkeys(all_questions))
    warmup, questions = unique[:WARMUP], unique[WARMUP:WARMUP + args.questions]
    run_info = {"started": now_iso(), "argv": sys.argv[1:], "machine": {**machine_info(),
                                                                     "load_avg_start": load_average()}}
    log(f"machine: {run_info['machine']}")
    busy = run_info["machine"]["load_avg_start"][0]
    if busy > 0.5 * (os.cpu_count() or 1) or run_info["machine"]["nice"] > 0:
        log(f"warning: load average {busy} / nice {run_info['machine']['nice']}: the phases share the CPU. "
            "With fewer free cores than --threads, torch's threads wait for each other and every figure "
            "suffers; compare cpu_per_wall of each phase with --threads")
    entries = []
    for n in sorted(set(args.sizes) | set(args.naive_sizes)):
        entry = measure_size(n, n in args.sizes, n in args.naive_sizes, args, questions, warmup)
        entry["ratios"] = ratios(entry)
        entries.append(entry)
    run_info["machine"]["load_avg_end"] = load_average()
    run_info["finished"] = now_iso()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / RESULT_FILE
    document = merge_results(path, entries, run_info)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    draw_plot(document, args.out / PLOT_FILE)
    log(f"results: {path}, plot: {args.out / PLOT_FILE}")
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 1 if any(has_error(e.get("ours")) or has_error(e.get("naive")) for e in entries) else 0


def has_error(block: dict | None) -> bool:
    """A phase of this block failed (its error is recorded in the block or one of its phases)."""
    if not block:
        return False
    return "error" in block or any(isinstance(v, dict) and "error" in v for v in block.values())


if __name__ == "__main__":
    sys.exit(main())
