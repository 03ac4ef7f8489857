"""``assistant serve``: the one-time work once, then one or more uvicorn worker processes on one port.

:func:`run` (the ``serve`` command and ``app.py``) does, in order:

1. **The one-time work, once** (:func:`prepare`): the model is prepared and ``--corpus`` ingested by
   a spawned process that exits when done, so no serving process imports torch for an ingest or
   keeps the ingest's memory, and N workers never race to prepare or ingest.
2. **The state directory** where the processes serving on this host share the rate-limit buckets
   and the sign-in back-off (:mod:`assistant.limitstore`).
3. **uvicorn** with the app factory :func:`worker_app`. One worker: served in this process. N
   workers: uvicorn's supervisor binds the port once and starts N spawned workers on that socket;
   it replaces a worker that dies, replaces them one by one on SIGHUP, and stops them all on
   SIGTERM/SIGINT. A worker accepts connections only once it has loaded the assistant and answered
   a warm-up question, so whichever worker answers ``/readyz`` is ready. Each response names its
   worker in ``X-Worker`` (the process id).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from rich.console import Console
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings

console = Console(stderr=True)

#: The settings :func:`run` was given, as JSON, for the workers it spawns (they share its environment).
SETTINGS_ENV = "ASSISTANT_SERVE_SETTINGS"
#: uvicorn's exit code for "the app cannot start": its supervisor then stops instead of respawning.
STARTUP_FAILURE = 3


class ServeError(RuntimeError):
    """Serving cannot start; the message says why (Chinese / English)."""


def run(settings: Settings, corpus: list[Path] | None = None) -> None:
    """Prepare the model and ingest ``corpus`` (incremental: unchanged files cost nothing) in a child
    process, then serve with ``settings.workers`` processes. Raises :class:`ServeError`."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    prepare(settings, corpus or [])
    settings = settings.with_overrides(state_dir=state_dir(settings))
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    console.print(f"打开 / open http://{settings.host}:{settings.port}/ "
                  f"({settings.workers} 个进程 / worker{'s' if settings.workers > 1 else ''})")
    if settings.workers > 1:  # Gradio keeps a page session in one process (README: Serving)
        console.print("[yellow]网页对话需固定在一个进程：请用一进程一端口加 ip_hash 代理 / the chat page needs a "
                      "visitor pinned to one process: one port per process behind deploy/nginx-assistant.conf"
                      "[/yellow]")
    config = uvicorn.Config(f"{__name__}:worker_app", factory=True, host=settings.host, port=settings.port,
                            workers=settings.workers, log_level="info", access_log=False,
                            timeout_graceful_shutdown=10,
                            # A worker's health-check thread needs the GIL; loading a large index or
                            # jieba's dictionary (one C call) may hold it for seconds on busy cores,
                            # and uvicorn's 5 s would kill and respawn a worker that is only slow.
                            timeout_worker_healthcheck=15)
    if settings.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise ServeError("服务未能启动，见上方日志 / the server did not start; see the log above")
        return
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise ServeError("工作进程未能启动，见上方日志 / a worker could not start; see the log above")


def state_dir(settings: Settings) -> Path:
    from assistant.limitstore import default_state_dir

    try:
        folder = settings.state_dir or default_state_dir(settings.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServeError(f"无法使用状态目录 / cannot use the state directory: {exc}") from exc
    return folder


# ---- the one-time work -------------------------------------------------------------------------
def prepare(settings: Settings, corpus: list[Path]) -> None:
    """Prepare the model and ingest ``corpus``; raises :class:`ServeError` with the reason.

    An ingest runs in a spawned child process (torch and the ingest's memory leave with it), and so
    does writing the workers' query encoder bundle when it is missing (it needs torch). Otherwise the
    model is checked here: a file check (no torch), where a child process would cost this start-up
    a second interpreter."""
    if not corpus and not _needs_bundle(settings):
        problem = _prepare_here(settings, corpus)
    else:
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                problem = pool.submit(_prepare_here, settings, corpus).result()
        except BrokenProcessPool as exc:
            problem = f"准备进程意外退出 / the preparing process died: {exc}"
    if problem:
        raise ServeError(problem)


def _prepare_here(settings: Settings, corpus: list[Path]) -> str | None:
    """The model, then the ingest (in the child); a problem comes back as its message."""
    from assistant.embedding.prepare import ModelUnavailableError, prepare_model
    from assistant.errors import ServiceUnavailable

    try:
        prepare_model(settings)
        if corpus:
            _ingest(settings, corpus)
        elif _needs_bundle(settings):  # models prepared by an older version: write the serving bundle
            from assistant.embedding import Embedder

            Embedder.from_settings(settings)
    except ModelUnavailableError as exc:
        return str(exc)
    except ServiceUnavailable as exc:
        return exc.detail
    return None


def _needs_bundle(settings: Settings) -> bool:
    """Whether the query encoder bundle the workers answer with is missing (a cheap file check): the
    index's model's, or — for an index that records none — any bundle at all."""
    from assistant.embedding.bundle import bundle_folder, bundle_problem
    from assistant.index.registry import Registry
    from assistant.index.sentence_vectors import MODEL_META

    model_id = Registry(settings.registry_path).get_meta(MODEL_META) if settings.registry_path.exists() else None
    if model_id:
        return bundle_problem(bundle_folder(settings.models_dir, model_id)) is not None
    return not any((settings.models_dir / "onnx").glob("[!.]*-b*"))


def _ingest(settings: Settings, corpus: list[Path]) -> None:
    from assistant.core import Assistant
    from assistant.embedding import Embedder

    report = Assistant(settings, Embedder.from_settings(settings)).ingest(corpus)
    console.print(
        f"索引 / index: {report.added} 新增 added, {report.updated} 更新 updated, "
        f"{report.unchanged} 未变 unchanged, {len(report.failed)} 失败 failed "
        f"({report.chunks_embedded} embedded, {report.seconds:.1f} s)"
    )
    for f in report.failed:
        console.print(f"[red]✗ {f.path}: {f.error}[/red]")


# ---- a worker ----------------------------------------------------------------------------------
def load_assistant(settings: Settings):
    """The assistant a serving process answers with — the one place it is constructed: torch-free
    (:meth:`Assistant.for_serving`); :func:`prepare` made sure its query encoder bundle exists."""
    from assistant.core import Assistant

    return Assistant.for_serving(settings)


def worker_app() -> ASGIApp:
    """uvicorn's app factory, run once in each worker: the assistant loaded and warmed up, then the app.

    The cyclic garbage collector is off until then: start-up creates millions of objects (modules,
    jieba's and Gradio's tables, the index) that all live as long as the worker, so its passes over
    them find nothing and cost 15–20% of the imports' time (measured: gradio, chromadb, onnxruntime
    and fastapi import in 3.1–3.4 s instead of 3.7–4.2 s of CPU)."""
    gc.disable()
    try:
        return _worker_app()
    finally:
        gc.enable()


def _worker_app() -> ASGIApp:
    started = time.perf_counter()
    from assistant.answer.llm import LLMUnavailable
    from assistant.embedding.prepare import ModelUnavailableError
    from assistant.errors import ServiceUnavailable
    from assistant.retrieval.model import ModelFileError
    from assistant.web.app import create_app

    settings = Settings(**json.loads(os.environ[SETTINGS_ENV]))
    try:
        assistant = load_assistant(settings)
    except (ModelUnavailableError, ModelFileError, LLMUnavailable, ServiceUnavailable, OSError) as exc:
        console.print(f"[red]{getattr(exc, 'detail', None) or exc}[/red]")
        sys.exit(STARTUP_FAILURE)
    # Ingest used every core; while serving, questions run side by side, one thread each.
    assistant.embedder.set_threads(settings.serve_threads)
    loaded = time.perf_counter()
    assistant.warm_up()  # ready means fast: the first visitor does not wait for jieba to load
    warmed = time.perf_counter()
    state = assistant.readiness()
    if not state["ready"]:
        console.print(f"[yellow]{state['message']}[/yellow]")
    app = WorkerHeader(create_app(settings, assistant))
    # What is loaded now (jieba's dictionaries, the model, the index, the page) lives as long as the
    # worker: keep it out of the cyclic garbage collector, whose full passes over millions of such
    # objects stalled every request in flight.
    gc.collect()
    gc.freeze()
    done = time.perf_counter()
    console.print(f"进程 {os.getpid()} 就绪 / worker ready in {done - started:.1f} s (assistant {loaded - started:.1f}, "
                  f"warm-up {warmed - loaded:.1f}, app {done - warmed:.1f})")
    return app


class WorkerHeader:
    """Adds ``X-Worker: <pid>`` to every response: which worker answered (logs, probes, tests)."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.header = (b"x-worker", str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_named)
