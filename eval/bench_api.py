"""Load benchmark of ``POST /api/chat`` on loopback: N concurrent clients × M requests each.

    python eval/bench_api.py                      # 20 clients × 10 requests, shipped corpus
    python eval/bench_api.py --clients 5 --requests 4 --stream

It starts its own server (``assistant serve --corpus corpus/`` in a subprocess, extractive
answering, the rate limit raised so that it measures the service and not the limiter), waits
for ``/readyz``, runs the clients with one shared connection pool, stops the server it started
and prints a JSON report, also written to ``out/bench_api.json``:
latency percentiles seen by clients, the server's own ``timings_ms.total``, status counts,
throughput. With ``--stream`` it measures ``/api/chat/stream`` instead (time to first byte and
to the ``done`` event).

Bounded: every request has a timeout and the whole run a deadline (``--max-seconds``).
Questions cycle through ``eval/questions/seed-616.jsonl`` (those without history).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_procs import cpu_seconds as process_cpu_seconds  # same folder: shared helpers

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions" / "seed-616.jsonl"
WARMUP_QUESTIONS = ROOT / "eval" / "questions" / "work-reports.jsonl"  # not among the measured ones
FALLBACK_QUESTIONS = ["惠水的土地政策有哪些？", "What measures address land for Huishui?", "第616号建议是谁提出的？"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_questions(path: Path = QUESTIONS) -> list[str]:
    if not path.exists():
        return FALLBACK_QUESTIONS
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if not item.get("history"):
                questions.append(item["question"])
    return questions or FALLBACK_QUESTIONS


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) — exact on the samples, no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
        "min": round(min(values), 1),
    }


class Server:
    """``assistant serve`` in a subprocess on a free loopback port; stopped by its own pid.

    Extractive answers and the embedded store whatever the caller's environment says (an LLM or a
    Chroma server would measure something else); ``models`` points at a prepared model folder.
    """

    def __init__(self, data_dir: Path, corpus: Path, rate_limit: int, log_path: Path,
                 models: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.corpus = corpus
        self.rate_limit = rate_limit
        self.log_path = log_path
        self.models = models
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        exe = Path(sys.executable).parent / "assistant"
        base = [str(exe)] if exe.exists() else [shutil.which("assistant") or "assistant"]
        return [*base, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--corpus", str(self.corpus)]

    def start(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("ASSISTANT_LLM_BASE_URL", "ASSISTANT_LLM_GGUF_PATH", "ASSISTANT_CHROMA_URL")}
        env.update({"ASSISTANT_RATE_LIMIT_PER_MINUTE": str(self.rate_limit), "GRADIO_ANALYTICS_ENABLED": "False",
                    "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
        if self.models is not None:
            env["ASSISTANT_MODELS_PATH"] = str(self.models)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the server was not ready within {timeout:.0f} s; see {self.log_path}")

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except (OSError, AttributeError):
            return None
        return None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def cpu_seconds(server: Server | None) -> float | None:
    """User + system CPU seconds of the server process this benchmark started (Linux /proc)."""
    if server is None or server.proc is None:
        return None
    return process_cpu_seconds(server.proc.pid)


def per_request(after: float | None, before: float | None, requests: int) -> float | None:
    if after is None or before is None or not requests:
        return None
    return round((after - before) * 1000 / requests, 1)


async def one_chat(client: httpx.AsyncClient, question: str, stream: bool) -> dict:
    """One request; latency in ms, plus time to first byte for streams."""
    started = time.perf_counter()
    record: dict = {"question": question, "started": started}
    try:
        if stream:
            async with client.stream("POST", "/api/chat/stream", json={"question": question}) as response:
                first_byte = None
                done = False
                async for chunk in response.aiter_text():
                    if first_byte is None:
                        first_byte = time.perf_counter()
                    if "event: done" in chunk:
                        done = True
                record["status"] = response.status_code if (done or response.status_code != 200) else "incomplete"
                if first_byte is not None:
                    record["ttfb_ms"] = (first_byte - started) * 1000
        else:
            response = await client.post("/api/chat", json={"question": question})
            record["status"] = response.status_code
            if response.status_code == 200:
                body = response.json()
                record["server_ms"] = body.get("timings_ms", {}).get("total")
                record["refused"] = body.get("refused")
    except httpx.TimeoutException:
        record["status"] = "timeout"
    except httpx.HTTPError as exc:
        record["status"] = type(exc).__name__
    record["ms"] = (time.perf_counter() - started) * 1000
    return record


async def run_clients(url: str, clients: int, requests: int, questions: list[str], stream: bool,
                      timeout: float, deadline: float) -> tuple[list[dict], float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def worker(index: int) -> list[dict]:
            out = []
            for j in range(requests):
                if time.monotonic() > deadline:
                    break
                out.append(await one_chat(client, questions[(index * requests + j) % len(questions)], stream))
            return out

        started = time.perf_counter()
        results = await asyncio.gather(*(worker(i) for i in range(clients)))
        wall = time.perf_counter() - started
    records = sorted((r for batch in results for r in batch), key=lambda r: r["started"])
    seen: set[str] = set()
    for r in records:  # the server keeps recent query vectors: repeats are cheaper, reported apart
        r["repeat"] = r["question"] in seen
        seen.add(r["question"])
    return records, wall


def report(records: list[dict], wall: float, args: argparse.Namespace, server_url: str) -> dict:
    statuses = Counter(str(r["status"]) for r in records)
    ok = [r for r in records if r["status"] == 200]
    out = {
        "endpoint": "/api/chat/stream" if args.stream else "/api/chat",
        "clients": args.clients,
        "requests_per_client": args.requests,
        "requests": len(records),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(records) / wall, 2) if wall else None,
        "status": dict(sorted(statuses.items())),
        "latency_ms": summary([r["ms"] for r in records]),
        "latency_ok_ms": summary([r["ms"] for r in ok]),
        "latency_first_ask_ms": summary([r["ms"] for r in records if not r["repeat"]]),
        "latency_repeat_ms": summary([r["ms"] for r in records if r["repeat"]]),
        "questions": len({r["question"] for r in records}),
        "server": {"url": server_url, "rate_limit_per_minute": args.rate_limit, "answering": "extractive"},
        "machine": {"cpus": os.cpu_count(), "omp_threads": os.environ.get("OMP_NUM_THREADS")},
    }
    if args.stream:
        out["ttfb_ms"] = summary([r["ttfb_ms"] for r in ok if "ttfb_ms" in r])
    else:
        out["server_total_ms"] = summary([r["server_ms"] for r in ok if r.get("server_ms") is not None])
        out["refused"] = sum(1 for r in ok if r.get("refused"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--requests", type=int, default=10, help="requests per client (default 10)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured warm-up requests (default 10)")
    parser.add_argument("--stream", action="store_true", help="benchmark /api/chat/stream instead")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "out" / "bench-data",
                        help="data directory for the server (ingested incrementally)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--url", help="benchmark a server that is already running instead of starting one")
    parser.add_argument("--rate-limit", type=int, default=1_000_000, help="the server's limit per client per minute")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="deadline for the whole run")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_api.json")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")

    questions = load_questions()
    server = None
    url = args.url
    if url is None:
        server = Server(args.data_dir, args.corpus, args.rate_limit, args.out.parent / "bench_api_server.log")
        print(f"starting the server on {server.url} (data: {args.data_dir}) …", file=sys.stderr)
        server.start(args.startup_timeout)
        url = server.url
    try:
        # Warm-up with other questions (lazy initialisation, first-shape kernels are not measured;
        # the measured questions stay unseen).
        for question in load_questions(WARMUP_QUESTIONS)[:args.warmup]:
            httpx.post(f"{url}/api/chat", json={"question": question}, timeout=args.timeout)
        deadline = time.monotonic() + args.max_seconds
        server_cpu, client_cpu = cpu_seconds(server), os.times()
        records, wall = asyncio.run(run_clients(url, args.clients, args.requests, questions, args.stream,
                                                args.timeout, deadline))
        client_after = os.times()
        cpu = {"server_ms_per_request": per_request(cpu_seconds(server), server_cpu, len(records)),
               "client_ms_per_request": per_request(client_after.user + client_after.system,
                                                    client_cpu.user + client_cpu.system, len(records))}
    finally:
        if server is not None:
            server.stop()
    result = report(records, wall, args, url)
    result["cpu"] = cpu
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if set(result["status"]) == {"200"} else 1


if __name__ == "__main__":
    sys.exit(main())
