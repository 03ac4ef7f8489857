"""The picture of ``eval/bench_serve.py``'s results: one group of bars per run (code label · data
directory), one bar per number of workers, in four panels — cold start, memory, throughput, latency."""

from __future__ import annotations

from pathlib import Path

PANELS = (
    ("Cold start to ready (median), s", lambda r: [r["cold_start_s"]["median"]], ["ready"]),
    ("Memory after the load, MB", lambda r: [r["memory_after_load"]["rss_per_worker_max_mb"],
                                             r["memory_after_load"]["pss_total_mb"]],
     ["RSS of the largest worker", "PSS in total"]),
    ("/api/chat answers per second (median)", lambda r: [r["answers_per_s"]["median"]], ["answers/s"]),
    ("/api/chat client latency, ms", lambda r: [r["latency_ms"].get("p50"), r["latency_ms"].get("p95")],
     ["p50", "p95"]),
)


def draw_plot(document: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    entries = [(key, e) for key, e in document.get("entries", {}).items() if e.get("results")]
    bars = [(key, n, result) for key, e in entries for n, result in sorted(e["results"].items(), key=lambda x: int(x[0]))]
    fig = Figure(figsize=(max(10, 1.6 * len(bars) + 4), 8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2).flatten()
    names = [f"{key}\n{n} worker{'s' if n != '1' else ''}" for key, n, _ in bars]
    for ax, (title, values_of, series) in zip(axes, PANELS):
        width = 0.8 / len(series)
        for j, label in enumerate(series):
            xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(bars))]
            ys = [values_of(result)[j] or 0 for _, _, result in bars]
            drawn = ax.bar(xs, ys, width, label=label)
            ax.bar_label(drawn, fmt="%.4g", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels(names, fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7)
    fig.suptitle("bench_serve — " + ", ".join(
        f"{key}: load {e.get('machine', {}).get('load_avg_start', ['?'])[0]}" for key, e in entries), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
