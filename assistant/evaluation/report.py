"""Showing the metrics: a rich table for the terminal, ``report.md`` and PNG charts for a folder.

Both read only the metrics object ``run_evaluation`` returns, so a report can be redrawn from a
saved ``--json`` output. Charts are drawn with matplotlib's Agg canvas directly (no pyplot, no
global backend switch); labels are bilingual when a CJK font is installed and English otherwise.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.table import Table

#: (key, English label, Chinese label) of every headline metric, in report order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("hit@1", "hit@1", "首位命中"),
    ("hit@3", "hit@3", "前3命中"),
    ("hit@5", "hit@5", "前5命中"),
    ("mrr", "MRR", "平均倒数排名"),
    ("ndcg@5", "nDCG@5", "排序质量"),
    ("citation_precision", "citation precision", "引用准确率"),
    ("citation_coverage", "citation coverage", "引用覆盖率"),
    ("refused_unanswerable", "unanswerable refused", "无解问题拒答率"),
    ("answered_answerable", "answerable answered", "有解问题作答率"),
    ("refusal_accuracy", "refusal decision accuracy", "拒答判断准确率"),
    ("cited_answers", "answers with ≥1 citation", "回答带引用比例"),
)
RETRIEVAL = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5")
BEHAVIOUR = ("citation_precision", "citation_coverage", "refused_unanswerable", "answered_answerable",
             "cited_answers")
GROUP_TITLES = {"by_kind": ("kind", "问题类型"), "by_language": ("language", "语言"),
                "by_turn": ("turn", "单轮/追问"), "by_set": ("question set", "问题集"), "by_fold": ("fold", "折")}
_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
_OURS_COLOR, _NAIVE_COLOR = "#2b6cb0", "#c05621"


def fmt(value) -> str:
    """A metric for display: three decimals, or an em dash when it does not apply."""
    return "—" if value is None else f"{value:.3f}"


def _systems(metrics: dict) -> list[str]:
    return [name for name in ("ours", "naive") if name in metrics]


# ---- terminal ----------------------------------------------------------------------------------
def metrics_table(metrics: dict) -> Table:
    """The headline metrics, ours next to the naive baseline when it ran, plus total latency."""
    systems = _systems(metrics)
    q = metrics.get("questions", {})
    table = Table(title=f"评测结果 / evaluation — {q.get('count', '?')} questions, k={metrics.get('k')}")
    table.add_column("指标 metric")
    for name in systems:
        table.add_column("本系统 ours" if name == "ours" else "常见做法 naive", justify="right")
    for key, en, zh in METRICS:
        values = [metrics[name]["overall"].get(key) for name in systems]
        if all(v is None for v in values):
            continue
        table.add_row(f"{zh} {en}", *map(fmt, values))
    for stage in ("retrieve", "total"):
        for pct in ("p50", "p95"):
            cells = [metrics[name]["latency_ms"].get(stage, {}).get(pct) for name in systems]
            table.add_row(f"{stage} {pct} (ms)", *("—" if c is None else f"{c:.1f}" for c in cells))
    table.add_row("失败题数 failures", *(str(len(metrics[name]["failures"])) for name in systems))
    return table


# ---- report folder -----------------------------------------------------------------------------
def write_report(metrics: dict, directory: Path) -> Path:
    """``report.md`` and its charts in ``directory``; returns the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    charts = draw_charts(metrics, directory)
    path = directory / "report.md"
    path.write_text(render_markdown(metrics, charts), encoding="utf-8")
    return path


def render_markdown(metrics: dict, charts: dict[str, str] | None = None) -> str:
    systems = _systems(metrics)
    heads = ["ours", "naive"][: len(systems)]
    q, idx = metrics["questions"], metrics["index"]
    lines = [
        "# Evaluation report / 评测报告",
        "",
        f"- generated {datetime.now().isoformat(timespec='seconds')}",
        (f"- questions: `{q['path']}` — {q['count']} ({q['answerable']} answerable, "
         f"{q['count'] - q['answerable']} unanswerable, {q['follow_up']} follow-ups); sets: "
         f"{', '.join(q['sets'])}"),
        f"- corpus: {', '.join(f'`{p}`' for p in idx['inputs'])}"
        + (f" (incl. {idx['distractors']} news distractors)" if idx.get("distractors") else ""),
        f"- our index: {idx['documents']} documents, {idx['chunks']} chunks, in `{idx['data_dir']}`",
        f"- k = {metrics['k']}; retrieval metrics over answerable questions only",
    ]
    if "naive" in idx:
        n = idx["naive"]
        lines.append(f"- naive baseline: RecursiveCharacterTextSplitter(500, overlap 50) → {n['chunks']} "
                     f"chunks → same e5 model → Chroma `similarity_search` on the raw question, no refusal")
    lines += ["", "## Headline metrics", "", _md_table(["metric", *heads], [
        [en, *(fmt(metrics[s]["overall"].get(key)) for s in systems)]
        for key, en, _ in METRICS
        if any(metrics[s]["overall"].get(key) is not None for s in systems)
    ])]
    if charts:
        lines += [""] + [f"![{title}]({name})" for name, title in charts.items()]

    lines += ["", "## Breakdown", ""]
    for key, (en, _) in GROUP_TITLES.items():
        lines += [f"### by {en}", "", _breakdown_table(metrics, key), ""]

    lines += ["## Latency (ms)", "", _latency_table(metrics), ""]
    for s in systems:
        lines += _failure_section(metrics, s)
    return "\n".join(lines).rstrip() + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def _breakdown_table(metrics: dict, key: str) -> str:
    columns = ("hit@1", "hit@5", "mrr", "ndcg@5", "citation_precision", "citation_coverage",
               "refused_unanswerable", "answered_answerable")
    short = {"mrr": "MRR", "ndcg@5": "nDCG@5", "citation_precision": "cit. precision",
             "citation_coverage": "cit. coverage", "refused_unanswerable": "unans. refused",
             "answered_answerable": "ans. answered"}
    header = ["group", "n", *(short.get(c, c) for c in columns)]
    naive = metrics.get("naive", {}).get(key, {})
    if naive:
        header += ["naive hit@1", "naive hit@5", "naive MRR"]
    rows = []
    for group, m in metrics["ours"].get(key, {}).items():
        row = [group, str(m["n"]["questions"]), *(fmt(m.get(c)) for c in columns)]
        if naive:
            nm = naive.get(group, {})
            row += [fmt(nm.get("hit@1")), fmt(nm.get("hit@5")), fmt(nm.get("mrr"))]
        rows.append(row)
    return _md_table(header, rows)


def _latency_table(metrics: dict) -> str:
    systems = _systems(metrics)
    stages: list[str] = []
    for s in systems:
        stages += [st for st in metrics[s]["latency_ms"] if st not in stages]
    header = ["stage"] + [f"{s} {p}" for s in systems for p in ("p50", "p95")]
    rows = []
    for stage in stages:
        row = [stage]
        for s in systems:
            cell = metrics[s]["latency_ms"].get(stage)
            row += ["—", "—"] if cell is None else [f"{cell['p50']:.1f}", f"{cell['p95']:.1f}"]
        rows.append(row)
    return _md_table(header, rows)


def _failure_section(metrics: dict, system: str) -> list[str]:
    failures = metrics[system]["failures"]
    title = "ours" if system == "ours" else "naive baseline"
    lines = [f"## Failures — {title} ({len(failures)})", ""]
    if not failures:
        return lines + ["None.", ""]
    if system == "naive":
        lines += ["<details><summary>show the baseline's failures</summary>", ""]
    for f in failures:
        where = f"{f['set']}, follow-up" if f["history"] else f["set"]
        lines.append(f"### `{f['id']}` ({where}) — {', '.join(f['problems'])}")
        lines.append("")
        lines.append(f"- question: {f['question']}")
        if f.get("standalone_question") and f["standalone_question"] != f["question"]:
            lines.append(f"- understood as: {f['standalone_question']}")
        if f["gold"]:
            rank = f"rank {f['gold_rank']}" if f["gold_rank"] else "not retrieved"
            lines.append(f"- gold: {' / '.join(f['gold'])} ({rank})")
        if system == "ours":
            lines.append(f"- {'refused' if f['refused'] else 'answer'}: {_one_line(f['answer'], 120)}")
        lines.append("- retrieved instead:" if "retrieval_miss" in f["problems"] else "- retrieved:")
        for r in f["retrieved"]:
            section = f" {r['section']}" if r["section"] else ""
            lines.append(f"  {r['rank']}. 《{r['doc_title']}》{section} — {r['preview']}")
        lines.append("")
    if system == "naive":
        lines += ["</details>", ""]
    return lines


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# ---- charts ------------------------------------------------------------------------------------
def cjk_font() -> str | None:
    """The family name of an installed CJK font (registered with matplotlib), or None."""
    from matplotlib import font_manager

    for path in _CJK_FONTS:
        if Path(path).is_file():
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    for font in font_manager.fontManager.ttflist:
        if any(tag in font.name for tag in ("CJK", "WenQuanYi", "Heiti", "SimHei", "Source Han")):
            return font.name
    return None


def draw_charts(metrics: dict, directory: Path) -> dict[str, str]:
    """Draw the PNG charts; returns {file name: caption} in display order."""
    import matplotlib

    family = cjk_font()
    rc = {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
          "axes.unicode_minus": False, "figure.dpi": 110}

    def label(en: str, zh: str) -> str:
        return f"{zh} {en}" if family else en

    charts: dict[str, str] = {}
    with matplotlib.rc_context(rc):
        systems = _systems(metrics)
        _bars(directory / "retrieval.png", [label(en, zh) for key, en, zh in METRICS if key in RETRIEVAL],
              {s: [metrics[s]["overall"].get(k) for k in RETRIEVAL] for s in systems},
              label(f"Retrieval (answerable questions, k={metrics['k']})", "检索质量"), label)
        charts["retrieval.png"] = "Retrieval: hit@k, MRR, nDCG@5"
        _bars(directory / "answers.png", [label(en, zh) for key, en, zh in METRICS if key in BEHAVIOUR],
              {s: [metrics[s]["overall"].get(k) for k in BEHAVIOUR] for s in systems},
              label("Citations and refusals", "引用与拒答"), label)
        charts["answers.png"] = "Citations and refusals"
        groups = [(key, g) for key in GROUP_TITLES for g in metrics["ours"].get(key, {})]
        if groups:
            _bars(directory / "breakdown.png", [f"{GROUP_TITLES[key][0]}: {g}" for key, g in groups],
                  {s: [metrics[s].get(key, {}).get(g, {}).get("hit@5") for key, g in groups] for s in systems},
                  label("hit@5 by group", "分组前5命中"), label)
            charts["breakdown.png"] = "hit@5 by kind, language, turn, question set and fold"
        _latency_chart(directory / "latency.png", metrics, label)
        charts["latency.png"] = "Latency per stage (p50 and p95)"
    return charts


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _bars(path: Path, names: list[str], series: dict[str, list], title: str, label) -> None:
    """Horizontal grouped bars in [0, 1]; a value that does not apply is left out and marked n/a."""
    fig = _new_figure(8, 0.5 + 0.45 * len(names) * max(1, len(series)))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(series))
    for i, (system, values) in enumerate(series.items()):
        color = _OURS_COLOR if system == "ours" else _NAIVE_COLOR
        legend = label("ours", "本系统") if system == "ours" else label("naive recipe", "常见做法")
        ys = [n + i * height for n in range(len(names))]
        ax.barh(ys, [v or 0.0 for v in values], height=height, color=color, label=legend)
        for y, v in zip(ys, values, strict=True):
            ax.text((v or 0.0) + 0.01, y, "n/a" if v is None else f"{v:.2f}", va="center", fontsize=8)
    ax.set_yticks([n + height * (len(series) - 1) / 2 for n in range(len(names))], names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def _latency_chart(path: Path, metrics: dict, label) -> None:
    systems = _systems(metrics)
    rows = [(s, stage, cell) for s in systems for stage, cell in metrics[s]["latency_ms"].items()]
    fig = _new_figure(8, 0.6 + 0.35 * max(1, len(rows)))
    ax = fig.add_subplot()
    names = [f"{'ours' if s == 'ours' else 'naive'} · {stage}" for s, stage, _ in rows]
    ys = list(range(len(rows)))
    ax.barh(ys, [c["p95"] for _, _, c in rows], color="#cbd5e0", label="p95")
    ax.barh(ys, [c["p50"] for _, _, c in rows],
            color=[_OURS_COLOR if s == "ours" else _NAIVE_COLOR for s, _, _ in rows], height=0.5, label="p50")
    for y, (_, _, c) in zip(ys, rows, strict=True):
        ax.text(c["p95"], y, f" {c['p50']:.1f} / {c['p95']:.1f}", va="center", fontsize=7)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, max([c["p95"] for _, _, c in rows] + [1.0]) * 6)  # room for the value labels
    ax.set_xlabel("ms (p50 bar, p95 shade)")
    ax.set_title(label("Latency per stage", "各阶段耗时"))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
