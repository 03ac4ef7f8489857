"""Serve the web app with uvicorn, after making sure the model and the index are ready."""

from __future__ import annotations

import gc
from pathlib import Path

from rich.console import Console

from assistant.settings import Settings

console = Console(stderr=True)


def run(settings: Settings, corpus: list[Path] | None = None) -> None:
    """Prepare the model, ingest ``corpus`` when given (incremental: unchanged files cost nothing), serve."""
    import uvicorn

    from assistant.core import Assistant
    from assistant.web.app import create_app

    assistant = Assistant.from_settings(settings)
    if corpus:
        report = assistant.ingest(corpus)
        console.print(
            f"索引 / index: {report.added} 新增 added, {report.updated} 更新 updated, "
            f"{report.unchanged} 未变 unchanged, {len(report.failed)} 失败 failed "
            f"({report.chunks_embedded} embedded, {report.seconds:.1f} s)"
        )
        for f in report.failed:
            console.print(f"[red]✗ {f.path}: {f.error}[/red]")
    # Ingest used every core; while serving, questions run side by side, one thread each.
    assistant.embedder.set_threads(settings.serve_threads)
    assistant.warm_up()  # ready means fast: the first visitor does not wait for jieba to load
    # What is loaded now (jieba's dictionaries, the model, the index) lives as long as the server:
    # keep it out of the cyclic garbage collector, whose full passes over millions of such
    # objects stalled every request in flight.
    gc.collect()
    gc.freeze()
    state = assistant.readiness()
    if not state["ready"]:
        console.print(f"[yellow]{state['message']}[/yellow]")
    app = create_app(settings, assistant)
    console.print(f"打开 / open http://{settings.host}:{settings.port}/")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
