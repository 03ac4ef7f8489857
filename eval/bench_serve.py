"""The serving process: cold start, memory, ``/api/chat`` throughput and latency, with 1 and N workers.

    python eval/bench_serve.py --data-dir /work/data-shipped --workers 1,2
    python eval/bench_serve.py --data-dir DIR --code ../before --label before --answers-out out/a.json
    python eval/bench_serve.py --data-dir DIR --starts 1 --workers 1        # a quick check

It serves an existing index as it is (``--data-dir``; nothing is ingested; the server writes its
answer log there, as in production) with the code of ``--code`` (a checkout; default this one):
``python -m assistant.cli serve --data-dir DIR [--workers N]`` on a free loopback port,
extractive answers, the embedded store, the rate limit raised (``ASSISTANT_RATE_LIMIT_PER_MINUTE``)
so that the service is measured and not the limiter.
Code whose ``serve`` has no ``--workers`` is measured with 1 worker only (the JSON says so).
For each number of workers the server is started ``--starts`` times (default 5), and each start:

* cold start — seconds from starting the process to the first 200 of ``/readyz``; with several
  workers, until every worker is ready too, told from outside: N worker processes exist and each
  has been quiet for 0.5 s (CPU time grew < 0.02 s and RSS < 2 MB per 0.25 s; a worker that
  still loads runs a core flat out). Reported: the median of the starts, and every start, and
  the CPU seconds the process tree used until then (what a busy machine changes least);
* memory once ready and after the load — RSS of each worker and in total, and PSS (from
  ``/proc/PID/smaps_rollup`` of the whole process tree: master, workers, helpers), since workers
  share pages; RSS summed over workers counts shared pages once per worker, PSS once;
* load — a few warm-up questions, then every question of ``eval/questions/*.jsonl`` without
  history (``--rounds`` times; a round asks each once, so the first round never hits the query
  vector cache of a fresh server) from ``--clients`` concurrent clients (default 20), each on
  its own keep-alive connection: answers/s (answers ÷ wall time of the load), client-side
  latency p50/p95 and the server's ``timings_ms.total`` p50/p95, and the CPU seconds of each
  server process during the load (how evenly the workers shared it; per answer, the service's
  cost whatever the load beside it). The client is a plain asyncio HTTP/1.1 client (no HTTP
  library in the loop; bodies are parsed after the load) and reports its own CPU time, since it
  competes with the server for the same cores.

Throughput is the median over starts; latency percentiles pool every start's requests. The
ratio N workers ÷ 1 worker is given for the throughput. Each answer is hashed (its text,
refusal, citations and sources without their float scores; and again with them):
``--answers-out FILE`` saves the hashes per question and ``--compare-answers FILE`` checks
them against another run's (e.g. the code before a change). Answers must also agree between
starts and worker counts.

Results are merged by ``--label`` (default: the code's git commit) and data directory into
``OUT/bench_serve.json`` and drawn into ``OUT/bench_serve.png`` (default ``out/bench_serve``);
the load average is recorded with every start (the machine may be shared: compare it).
Bounded: per-request timeout, start-up timeout, a deadline for the whole run. Exit status 1
on any non-200, a failed start, the deadline, or answers that differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bench_api import free_port, load_questions, summary  # same folder: shared helpers
from bench_client import run_load
from bench_procs import cpu_by_pid, memory_summary, snapshot, stop_tree
from bench_scale import load_average, machine_info, now_iso
from bench_serve_plot import draw_plot

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "out" / "bench_serve"
WARMUP = ("这份答复提出了哪些措施？", "What does the reply promise?", "有哪些支持政策？",
          "联系人和电话是什么？", "How are land quotas handled?", "办理结果是什么？")
QUIET_STEP, QUIET_FOR = 0.25, 0.5  # seconds: how often the tree is sampled; how long workers must be quiet


class RunFailed(RuntimeError):
    pass


def questions_without_history() -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / "eval" / "questions").glob("*.jsonl")):
        found += load_questions(path)
    return list(dict.fromkeys(found))


# ---- the server --------------------------------------------------------------------------------

def server_env(code: Path, models: Path | None, rate_limit: int) -> dict[str, str]:
    """This environment minus what would measure something else (an LLM, a Chroma server, a config file)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ASSISTANT_LLM_BASE_URL", "ASSISTANT_LLM_GGUF_PATH", "ASSISTANT_CHROMA_URL",
                        "ASSISTANT_DATA_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(code), ASSISTANT_CONFIG=str(code / "no-such-assistant.toml"),
               ASSISTANT_RATE_LIMIT_PER_MINUTE=str(rate_limit), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    if models is not None:
        env["ASSISTANT_MODELS_PATH"] = str(models)
    return env


def supports_workers(code: Path, env: dict[str, str]) -> bool:
    """Whether this code's ``assistant serve`` takes ``--workers``; RunFailed when it cannot even show its help."""
    shown = subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--help"], check=False, cwd=code,
                           env=env, capture_output=True, text=True, timeout=120)
    if shown.returncode != 0:
        raise RunFailed(f"`assistant serve --help` of {code} exited with {shown.returncode}: {shown.stderr[-300:]}")
    return "--workers" in shown.stdout


def start_server(args: argparse.Namespace, env: dict[str, str], workers: int | None, log_path: Path):
    port = free_port()
    command = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(args.data_dir)] + (["--workers", str(workers)] if workers else [])
    with log_path.open("ab") as log:
        log.write(f"\n==== {now_iso()} {' '.join(command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=args.code)
    return proc, port


def wait_ready(proc: subprocess.Popen, port: int, workers: int, started: float, timeout: float) -> dict:
    """Seconds to the first 200 of /readyz, then until ``workers`` worker processes are all quiet."""
    with httpx.Client(timeout=2, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                raise RunFailed(f"the server exited with {proc.returncode} before it was ready")
            if time.perf_counter() - started > timeout:
                raise RunFailed(f"the server was not ready within {timeout:.0f} s")
            try:
                if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    readyz_s = time.perf_counter() - started
    before, before_at, quiet_since = snapshot(proc.pid), time.perf_counter(), None
    while True:
        time.sleep(QUIET_STEP)
        rows, at = snapshot(proc.pid), time.perf_counter()
        old = {r["pid"]: r for r in before}
        serving = [r for r in rows if r["role"] == "worker"]
        calm = len(serving) >= workers and all(
            r["pid"] in old and (r["cpu_s"] or 0) - (old[r["pid"]]["cpu_s"] or 0) < 0.02
            and abs(r["rss_mb"] - old[r["pid"]]["rss_mb"]) < 2 for r in serving)
        quiet_since = (quiet_since or before_at) if calm else None
        if quiet_since is not None and at - quiet_since >= QUIET_FOR:
            break
        if at - started > timeout:
            raise RunFailed(f"{len(serving)} of {workers} workers were not quiet within {timeout:.0f} s")
        before, before_at = rows, at
    all_ready = max(readyz_s, quiet_since - started)
    return {"readyz_s": round(readyz_s, 2), "all_workers_ready_s": round(all_ready, 2),
            "cold_start_s": round(readyz_s if workers == 1 else all_ready, 2),
            "cold_start_cpu_s": round(sum(r["cpu_s"] or 0 for r in rows), 2), "rows": rows}


# ---- one start: cold start, memory, load ---------------------------------------------------------

def answer_hashes(body: dict) -> dict:
    """Hashes of an answer without what changes from call to call (ids, timings): without the float
    scores of citations and sources (what a reader sees), and with them."""
    full = {k: v for k, v in body.items() if k not in ("id", "answer_id", "timings_ms")}
    shown = {**full, **{key: [{k: v for k, v in c.items() if k != "score"} for c in full.get(key) or []]
                        for key in ("citations", "sources")}}

    def digest(value: dict) -> str:
        return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]

    return {"answer": digest(shown), "with_scores": digest(full), "refused": bool(body.get("refused"))}


def load_figures(load: dict, questions: int) -> tuple[dict, dict, list[float], list[float]]:
    """One start's load: its figures, the answers of the first round, latencies, server totals."""
    records, wall = load["records"], load["wall_s"]
    ok = [r for r in records if r["status"] == 200]
    bodies = [json.loads(r["body"]) for r in ok]
    latencies = [r["ms"] for r in ok]
    totals = [float(b["timings_ms"]["total"]) for b in bodies if "total" in (b.get("timings_ms") or {})]
    answers = {r["question"]: answer_hashes(b) for r, b in zip(ok, bodies) if r["index"] < questions}
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    figures = {
        "requests": len(records), "status": statuses, "wall_s": round(wall, 2),
        "answers_per_s": round(len(ok) / wall, 2) if wall else None,
        "latency_ms": summary(latencies), "server_total_ms": summary(totals),
        "refused": sum(1 for b in bodies if b.get("refused")),
        "client_cpu_s": round(load["client_cpu_s"], 2),
        "client_cpu_ms_per_request": round(load["client_cpu_s"] * 1000 / len(records), 2) if records else None,
    }
    return figures, answers, latencies, totals


def one_start(args: argparse.Namespace, env: dict, workers: int, flag: int | None, questions: list[str],
              deadline: float) -> dict:
    load_before, started = load_average(), time.perf_counter()
    proc, port = start_server(args, env, flag, args.out / "bench_serve_server.log")
    try:
        ready = wait_ready(proc, port, workers, started, min(args.startup_timeout, deadline - time.monotonic()))
        out = {"load_avg_before": load_before, **ready, "memory_ready": memory_summary(ready.pop("rows"))}
        warm = [q for q in WARMUP if q not in questions]
        warmed = run_load(port, warm, len(warm), args.timeout, deadline)["records"]
        if any(r["status"] != 200 for r in warmed):
            raise RunFailed(f"warm-up answers: {[r['status'] for r in warmed]}")
        cpu_before = cpu_by_pid(snapshot(proc.pid))
        out["load"] = run_load(port, questions * args.rounds, args.clients, args.timeout, deadline)
        after = snapshot(proc.pid)
        out["memory_after_load"] = memory_summary(after)
        used = [{"pid": r["pid"], "role": r["role"], "cpu_s": round(r["cpu_s"] - cpu_before.get(r["pid"], 0.0), 2)}
                for r in after if r["cpu_s"] is not None]
        answered = sum(1 for r in out["load"]["records"] if r["status"] == 200)
        out["server_cpu_in_load"] = {"by_process": used, "ms_per_answer": round(
            sum(u["cpu_s"] for u in used) * 1000 / answered, 1) if answered else None}
    finally:
        stop_tree(proc)
    out["load_avg_after"] = load_average()
    return out


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def memory_medians(starts: list[dict], key: str) -> dict:
    blocks = [s[key] for s in starts]
    return {"rss_per_worker_max_mb": median([max(b["rss_per_worker_mb"], default=None) for b in blocks]),
            "pss_per_worker_max_mb": median([max(b["pss_per_worker_mb"], default=None) for b in blocks]),
            "rss_total_mb": median([b["rss_total_mb"] for b in blocks]),
            "pss_total_mb": median([b["pss_total_mb"] for b in blocks])}


def measure_workers(args: argparse.Namespace, env: dict, workers: int, flag: int | None,
                    questions: list[str], deadline: float) -> tuple[dict, list[dict]]:
    """``--starts`` starts with ``workers`` workers: the summary and every start's answers."""
    starts, answers, latencies, totals = [], [], [], []
    for k in range(args.starts):
        print(f"[bench_serve] {workers} worker(s), start {k + 1}/{args.starts} (load {load_average()})",
              file=sys.stderr, flush=True)
        start = one_start(args, env, workers, flag, questions, deadline)
        figures, got, lat, tot = load_figures(start.pop("load"), len(questions))
        starts.append({**start, "load": figures})
        answers.append(got)
        latencies += lat
        totals += tot
        print(f"[bench_serve]   ready {start['cold_start_s']} s, {figures['answers_per_s']} answers/s, "
              f"PSS {start['memory_after_load']['pss_total_mb']} MB", file=sys.stderr, flush=True)
    client_cpu = sum(s["load"]["client_cpu_s"] for s in starts)
    requests = sum(s["load"]["requests"] for s in starts)
    return {
        "workers": workers,
        "cold_start_s": {"median": median([s["cold_start_s"] for s in starts]),
                         "starts": [s["cold_start_s"] for s in starts]},
        "readyz_s_median": median([s["readyz_s"] for s in starts]),
        "cold_start_cpu_s_median": median([s["cold_start_cpu_s"] for s in starts]),
        "memory_ready": memory_medians(starts, "memory_ready"),
        "memory_after_load": memory_medians(starts, "memory_after_load"),
        "answers_per_s": {"median": median([s["load"]["answers_per_s"] for s in starts]),
                          "starts": [s["load"]["answers_per_s"] for s in starts]},
        "latency_ms": summary(latencies), "server_total_ms": summary(totals),
        "server_cpu_ms_per_answer_median": median([s["server_cpu_in_load"]["ms_per_answer"] for s in starts]),
        "client_cpu": {"s": round(client_cpu, 2), "ms_per_request": round(client_cpu * 1000 / requests, 2)
                       if requests else None,
                       "share_of_load_wall": round(client_cpu / sum(s["load"]["wall_s"] for s in starts), 3)},
        "non_200": sum(n for s in starts for code, n in s["load"]["status"].items() if code != "200"),
        "starts": starts,
    }, answers


# ---- answers, results --------------------------------------------------------------------------------

def answer_differences(runs: list[dict]) -> list[str]:
    """Questions whose answer hash is not the same in every run (starts, worker counts)."""
    questions = set().union(*runs) if runs else set()
    return sorted(q for q in questions if len({(r.get(q) or {}).get("answer") for r in runs}) > 1)


def compare_answers(mine: dict, path: Path) -> dict:
    theirs = json.loads(path.read_text(encoding="utf-8"))["answers"]
    common = sorted(set(mine) & set(theirs))
    differ = [q for q in common if mine[q]["answer"] != theirs[q]["answer"]]
    return {"against": str(path), "questions": len(common), "identical": len(common) - len(differ),
            "differ": differ, "identical_with_scores": sum(mine[q]["with_scores"] == theirs[q]["with_scores"]
                                                           for q in common),
            "only_here": len(set(mine) - set(theirs)), "only_there": len(set(theirs) - set(mine))}


def code_label(code: Path) -> str:
    def git(*words: str) -> str:
        return subprocess.run(["git", "-C", str(code), *words], check=False, capture_output=True,
                              text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or code.name
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def save(args: argparse.Namespace, key: str, entry: dict) -> dict:
    path = args.out / "bench_serve.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {"benchmark": "bench_serve", "entries": {}}
    document["entries"][key] = entry
    document["updated"] = now_iso()
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    draw_plot(document, args.out / "bench_serve.png")
    print(f"[bench_serve] results: {path}, plot: {args.out / 'bench_serve.png'}", file=sys.stderr)
    return document


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="an ingested data directory (read as is)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose code serves (default: this)")
    parser.add_argument("--models", type=Path, default=os.environ.get("ASSISTANT_MODELS_PATH") or None,
                        help="prepared models (default: ASSISTANT_MODELS_PATH, else DATA_DIR/models)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--starts", type=int, default=5, help="starts per worker count (default 5)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--rounds", type=int, default=1, help="times each question is asked per start")
    parser.add_argument("--rate-limit", type=int, default=1_000_000, help="the server's limit per minute")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="per start, seconds")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="deadline for the whole run")
    parser.add_argument("--label", help="the results' name (default: the code's git commit)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default out/bench_serve)")
    parser.add_argument("--answers-out", type=Path, help="save the answers' hashes per question (JSON)")
    parser.add_argument("--compare-answers", type=Path, help="an --answers-out file of another run to compare")
    args = parser.parse_args(argv)
    try:
        args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    except ValueError:
        parser.error("--workers: comma-separated numbers, e.g. 1,2")
    if not args.workers or min(args.workers) < 1 or args.starts < 1 or args.clients < 1 or args.rounds < 1:
        parser.error("--workers, --starts, --clients and --rounds must be at least 1")
    args.code, args.data_dir = args.code.resolve(), args.data_dir.resolve()
    if not (args.data_dir / "registry.sqlite3").is_file():
        parser.error(f"{args.data_dir} 不是已导入的数据目录（没有 registry.sqlite3），请先运行 assistant ingest。"
                     f" / {args.data_dir} is no ingested data directory (no registry.sqlite3): run assistant ingest")
    if not (args.code / "assistant" / "cli.py").is_file():
        parser.error(f"{args.code} 不是本项目的代码 / {args.code} holds no assistant/cli.py")
    if args.compare_answers and not args.compare_answers.is_file():
        parser.error(f"找不到 / not found: {args.compare_answers}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.max_seconds
    env = server_env(args.code, args.models, args.rate_limit)
    try:
        has_workers = supports_workers(args.code, env)
    except (RunFailed, subprocess.TimeoutExpired) as exc:
        print(f"[bench_serve] 无法运行该代码 / cannot run this code: {exc}", file=sys.stderr)
        return 2
    counts = args.workers if has_workers else [1]
    questions = questions_without_history()
    label = args.label or code_label(args.code)
    entry = {"label": label, "code": str(args.code), "data_dir": str(args.data_dir), "measured_at": now_iso(),
             "argv": sys.argv[1:], "questions": len(questions), "clients": args.clients, "rounds": args.rounds,
             "serve_has_workers_option": has_workers,
             "note": "" if has_workers else "this code's serve has no --workers: 1 worker measured",
             "machine": {**machine_info(), "load_avg_start": load_average()}, "results": {}}
    runs, failure = [], None
    try:
        for n in counts:
            summary_n, answers = measure_workers(args, env, n, n if has_workers else None, questions, deadline)
            entry["results"][str(n)] = summary_n
            runs += answers
    except (RunFailed, OSError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
        print(f"[bench_serve] 失败 / failed: {failure}", file=sys.stderr)
    one, most = entry["results"].get("1"), entry["results"].get(str(max(counts)))
    if one and most and most is not one:
        entry[f"throughput_ratio_{max(counts)}_to_1"] = round(most["answers_per_s"]["median"]
                                                              / one["answers_per_s"]["median"], 2)
    entry["answers_differ_between_runs"] = answer_differences(runs)
    answers = runs[0] if runs else {}
    if args.compare_answers and answers:
        entry["compared_answers"] = compare_answers(answers, args.compare_answers)
    if args.answers_out and answers:
        args.answers_out.parent.mkdir(parents=True, exist_ok=True)
        args.answers_out.write_text(json.dumps({"label": label, "data_dir": str(args.data_dir), "answers": answers},
                                               ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    entry["machine"]["load_avg_end"] = load_average()
    entry["error"] = failure
    save(args, f"{label} · {args.data_dir.name}", entry)
    print(json.dumps({k: v for k, v in entry.items() if k != "results"} | {"results": {
        n: {k: v for k, v in r.items() if k != "starts"} for n, r in entry["results"].items()}},
        ensure_ascii=False, indent=2))
    bad = (failure or entry["answers_differ_between_runs"] or (entry.get("compared_answers") or {}).get("differ")
           or any(r["non_200"] for r in entry["results"].values()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
