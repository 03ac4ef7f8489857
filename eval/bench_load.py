"""Bounded load test on loopback: 50 concurrent visitors × 20 questions, plus one abusive client.

    python eval/bench_load.py                       # 50 clients × 20 requests, shipped corpus
    python eval/bench_load.py --clients 10 --requests 5 --abuser-requests 0

It starts the app itself (``assistant serve`` in a subprocess on 127.0.0.1 and a free port,
shipped corpus, extractive answers, the production rate limit of
``ASSISTANT_RATE_LIMIT_PER_MINUTE`` — 60 a minute by default), waits for ``/readyz``, runs the
clients, stops the server by its pid and prints one JSON report, also written to
``out/bench_load.json``.

Every visitor connects from its own loopback address (127.0.0.2, 127.0.0.3, …), as visitors
behind different IPs do, so each has its own rate-limit bucket and stays within it: any status
other than 200 for them is an error. One more client (127.0.0.250) fires a burst of questions
far faster than the limit allows: its 429s are the intended ones, and the report shows that the
limiter stopped it while the visitors went on being served. Questions come from
``eval/questions/seed-616.jsonl`` (follow-ups with their history); one request in five uses
``/api/chat/stream``.

Bounded: every request has a timeout, the run a deadline (``--max-seconds``); the exit status is
0 only when the visitors saw nothing but 200s and the abuser nothing but 200s and 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_api import Server, summary  # same folder: shared helpers

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions" / "seed-616.jsonl"
ABUSER_ADDRESS = "127.0.0.250"


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    """``{"question", "history"}`` items; the fallback keeps the script usable without eval/."""
    if not path.exists():
        return [{"question": "惠水的土地政策有哪些？", "history": []},
                {"question": "What measures address land for Huishui?", "history": []}]
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            items.append({"question": item["question"], "history": item.get("history") or []})
    return items


async def one_request(client: httpx.AsyncClient, item: dict, stream: bool) -> dict:
    """One question; ``ms`` is the latency to the complete answer (to ``done`` when streamed)."""
    started = time.perf_counter()
    record: dict = {"stream": stream}
    body = {"question": item["question"], "history": item["history"]}
    try:
        if stream:
            async with client.stream("POST", "/api/chat/stream", json=body) as response:
                text = ""
                async for chunk in response.aiter_text():
                    if not text and chunk:
                        record["ttfb_ms"] = (time.perf_counter() - started) * 1000
                    text += chunk
                status = response.status_code
                if status == 200 and "event: done" not in text:
                    status = "stream_without_done"
                record["status"] = status
        else:
            response = await client.post("/api/chat", json=body)
            record["status"] = response.status_code
            if response.status_code == 200:
                answer = response.json()
                record["server_ms"] = answer.get("timings_ms", {}).get("total")
                record["refused"] = answer.get("refused")
            else:
                record["body"] = response.text[:300]
    except httpx.TimeoutException:
        record["status"] = "timeout"
    except httpx.HTTPError as exc:
        record["status"] = type(exc).__name__
    record["ms"] = (time.perf_counter() - started) * 1000
    return record


async def visitor(url: str, index: int, requests: int, items: list[dict], timeout: float,
                  deadline: float, same_address: bool) -> list[dict]:
    """One visitor: its own loopback address and connection, questions one after another."""
    address = "127.0.0.1" if same_address else f"127.0.0.{2 + index}"
    transport = httpx.AsyncHTTPTransport(local_address=address)
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport) as client:
        for j in range(requests):
            if time.monotonic() > deadline:
                break
            item = items[(index * 7 + j) % len(items)]
            record = await one_request(client, item, stream=(index + j) % 5 == 4)
            record["client"] = index
            out.append(record)
    return out


async def abuser(url: str, requests: int, items: list[dict], timeout: float, deadline: float) -> list[dict]:
    """A burst from one address, 10 at a time, as fast as answers (or refusals) come back."""
    transport = httpx.AsyncHTTPTransport(local_address=ABUSER_ADDRESS)
    limits = httpx.Limits(max_connections=10)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport, limits=limits) as client:
        gate = asyncio.Semaphore(10)

        async def one(j: int) -> dict:
            async with gate:
                if time.monotonic() > deadline:
                    return {"status": "skipped", "ms": 0.0}
                return await one_request(client, items[j % len(items)], stream=False)

        return list(await asyncio.gather(*(one(j) for j in range(requests))))


async def run(url: str, args: argparse.Namespace, items: list[dict]) -> tuple[list[dict], list[dict], float]:
    deadline = time.monotonic() + args.max_seconds
    started = time.perf_counter()
    tasks = [visitor(url, i, args.requests, items, args.timeout, deadline, args.same_address)
             for i in range(args.clients)]
    if args.abuser_requests:
        tasks.append(abuser(url, args.abuser_requests, items, args.timeout, deadline))
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    visitors = [r for batch in results[: args.clients] for r in batch]
    abusive = results[args.clients] if args.abuser_requests else []
    return visitors, abusive, wall


def report(visitors: list[dict], abusive: list[dict], wall: float, args: argparse.Namespace,
           server: Server | None, url: str) -> dict:
    ok = [r for r in visitors if r["status"] == 200]
    unexpected = [r for r in visitors if r["status"] != 200]
    if args.same_address:  # one shared bucket: 429s are the limiter doing its job
        unexpected = [r for r in unexpected if r["status"] != 429]
    abuser_statuses = Counter(str(r["status"]) for r in abusive)
    abuser_unexpected = [r for r in abusive if r["status"] not in (200, 429)]
    total = len(visitors) + len(abusive)
    return {
        "clients": args.clients,
        "requests_per_client": args.requests,
        "requests": total,
        "served_200": len(ok) + abuser_statuses.get("200", 0),
        "wall_s": round(wall, 2),
        "throughput_rps": round(total / wall, 2) if wall else None,
        "status": dict(sorted(Counter(str(r["status"]) for r in visitors + abusive).items())),
        "visitors": {
            "requests": len(visitors),
            "status": dict(sorted(Counter(str(r["status"]) for r in visitors).items())),
            "latency_ms": summary([r["ms"] for r in ok]),
            "chat_latency_ms": summary([r["ms"] for r in ok if not r["stream"]]),
            "stream_latency_ms": summary([r["ms"] for r in ok if r["stream"]]),
            "stream_ttfb_ms": summary([r["ttfb_ms"] for r in ok if r["stream"] and "ttfb_ms" in r]),
            "server_total_ms": summary([r["server_ms"] for r in ok if r.get("server_ms") is not None]),
            "refused": sum(1 for r in ok if r.get("refused")),
            "unexpected": len(unexpected),
            "unexpected_examples": unexpected[:5],
        },
        "abuser": {
            "address": ABUSER_ADDRESS,
            "requests": len(abusive),
            "status": dict(sorted(abuser_statuses.items())),
            "rate_limited_429": abuser_statuses.get("429", 0),
            "latency_429_ms": summary([r["ms"] for r in abusive if r["status"] == 429]),
            "unexpected": len(abuser_unexpected),
        },
        "errors_other_than_intended_429": len(unexpected) + len(abuser_unexpected),
        "server": {"url": url, "rate_limit_per_minute": args.rate_limit, "answering": "extractive",
                   "rss_mb_after": server.rss_mb() if server else None},
        "machine": {"cpus": os.cpu_count(), "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent visitors (default 50)")
    parser.add_argument("--requests", type=int, default=20, help="questions per visitor (default 20)")
    parser.add_argument("--abuser-requests", type=int, default=100,
                        help="burst size of the abusive client (0: none); default 100")
    parser.add_argument("--rate-limit", type=int,
                        default=int(os.environ.get("ASSISTANT_RATE_LIMIT_PER_MINUTE", "60")),
                        help="the server's limit per client address per minute (default: production, 60)")
    parser.add_argument("--same-address", action="store_true",
                        help="all visitors from 127.0.0.1 (one shared bucket: expect many 429s)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "out" / "bench-load-data")
    parser.add_argument("--models-path", type=Path, default=None,
                        help="prepared models (default: ASSISTANT_MODELS_PATH, else DATA_DIR/models)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--url", help="load a server that is already running instead of starting one")
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="deadline for the whole run")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_load.json")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1 or args.clients > 240:
        parser.error("--clients must be 1..240 (one loopback address each) and --requests at least 1")

    items = load_questions()
    server = None
    url = args.url
    if url is None:
        models = args.models_path or (Path(os.environ["ASSISTANT_MODELS_PATH"])
                                      if os.environ.get("ASSISTANT_MODELS_PATH") else None)
        server = Server(args.data_dir, args.corpus, args.rate_limit, args.out.parent / "bench_load_server.log",
                        models)
        print(f"starting the server on {server.url} (data: {args.data_dir}) …", file=sys.stderr)
        server.start(args.startup_timeout)
        url = server.url
    try:
        # One warm-up request (from an address no client uses) so lazy initialisation is not measured.
        warm = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.254"), timeout=args.timeout)
        with warm:
            warm.post(f"{url}/api/chat", json={"question": items[0]["question"]})
        print(f"{args.clients} clients × {args.requests} requests + a burst of {args.abuser_requests} …",
              file=sys.stderr)
        visitors, abusive, wall = asyncio.run(run(url, args, items))
        result = report(visitors, abusive, wall, args, server, url)
    finally:
        if server is not None:
            server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    ok = result["errors_other_than_intended_429"] == 0
    if args.abuser_requests > args.rate_limit > 0:
        ok = ok and result["abuser"]["rate_limited_429"] > 0  # the limiter must have stopped the burst
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
